/**
 * Runs a pass's commands for one app (see app-plan.ts): phase by phase, step by step, the
 * commands of a step together. It checks the lease before each command, holds failing commands
 * back with backoff, remembers hosts that refuse a start, and folds every outcome into the draft.
 */
import type { LatticeClient } from "../ctl/lattice-client.js";
import { isRefusal, toWireError } from "../ctl/placement.js";
import type { Logger } from "../protocol/logging.js";
import type { LatticeState } from "../nats/lattice-state.js";
import { messageOf, type AppStatus } from "../protocol/index.js";
import { mayForget, recordOutcome, type AppPlan, type Command, type Outcome } from "./app-plan.js";
import type { Refusals } from "./plan.js";

const MAX_BACKOFF_MS = 30_000;
/**
 * How long a host that refused to start a component is left out of its placement. Once the
 * instances run elsewhere, asking again is harmless: a placement keeps what runs, so the host is
 * only asked if it is needed.
 */
const REFUSAL_TTL_MS = 30_000;

export interface ExecutorOptions {
  client: Pick<LatticeClient, "scaleOnHost" | "startProviderOn" | "stopProviderOn" | "stopActor" | "stopProvider">;
  state: Pick<LatticeState, "putConfig" | "deleteConfig" | "putLink" | "deleteLink">;
  /** Whether this host holds the lease now. */
  leading: () => boolean;
  /** Write an app's status (`force`: even when unchanged); checks the lease itself. */
  writeStatus: (status: AppStatus, force: boolean) => Promise<void>;
  /** Remove an undeployed app's records. */
  forget: (app: string) => Promise<void>;
  log: Logger;
  /** Operations issued and failed, counted here. */
  stats: { operations: number; failures: number };
}

/** Thrown before a command once the lease has run out: the pass stops there. */
export class LeaseLost extends Error {}

export class Executor {
  /** Failing operations wait before their next try: key → failures and when to try again. */
  private readonly backoff = new Map<string, { failures: number; until: number; error: string }>();
  /** Hosts that refused to start a component, by `app component ref`: host id → answer and until when. */
  private readonly refusals = new Map<string, Map<string, { reason: string; until: number }>>();

  constructor(private readonly o: ExecutorOptions) {}

  /** The hosts that refused to start this app's component at this ref lately, with their answers. */
  refused(app: string, componentId: string, ref: string): Refusals {
    return new Map([...(this.refusals.get(`${app} ${componentId} ${ref}`) ?? [])].map(([h, r]) => [h, r.reason]));
  }

  /** Refusals older than REFUSAL_TTL_MS are forgotten: the host is asked again when it is needed. */
  forgetOldRefusals(): void {
    const now = Date.now();
    for (const [key, hosts] of this.refusals) {
      for (const [h, r] of hosts) if (r.until <= now) hosts.delete(h);
      if (hosts.size === 0) this.refusals.delete(key);
    }
  }

  /** Run the plan's phases in order; resolves with whether the app was forgotten. */
  async execute(plan: AppPlan): Promise<boolean> {
    const app = plan.draft.status.name;
    let forgotten = false;
    for (const phase of plan.phases) {
      for (const step of phase.steps) {
        await Promise.all(
          step.map(async (cmd) => {
            if (cmd.kind === "claim") return this.o.writeStatus(cmd.status, true);
            if (cmd.kind === "forget") {
              if (!mayForget(plan.draft)) return;
              this.assertLeading();
              await this.o.forget(app);
              forgotten = true;
              return;
            }
            recordOutcome(plan.draft, cmd, await this.attempt(app, cmd));
          }),
        );
      }
    }
    return forgotten;
  }

  /**
   * Run one operation unless it is backing off after failures. Failures become reasons
   * (`what: error`) in the app's status.
   */
  private async attempt(app: string, cmd: Exclude<Command, { kind: "claim" | "forget" }>): Promise<Outcome> {
    const key = `${app} ${cmd.what}`;
    const b = this.backoff.get(key);
    if (b && Date.now() < b.until) return { ok: false, reason: `${b.error} (next try in ${Math.ceil((b.until - Date.now()) / 1000)} s)` };
    this.assertLeading();
    this.o.stats.operations++;
    try {
      await this.run(app, cmd);
      this.backoff.delete(key);
      return { ok: true };
    } catch (e) {
      this.o.stats.failures++;
      const failures = (b?.failures ?? 0) + 1;
      const error = `${cmd.what}: ${messageOf(e)}`;
      this.backoff.set(key, { failures, until: Date.now() + Math.min(MAX_BACKOFF_MS, 250 * 2 ** failures), error });
      this.o.log.warn("app operation failed", { app, error });
      return { ok: false, reason: error };
    }
  }

  private async run(app: string, cmd: Exclude<Command, { kind: "claim" | "forget" }>): Promise<unknown> {
    const { client, state } = this.o;
    switch (cmd.kind) {
      case "put-config":
        return state.putConfig(cmd.name, cmd.values);
      case "scale-actor":
        return this.noteRefusal(`${app} ${cmd.component} ${cmd.request.ref}`, cmd.hostId, cmd.request.instances > 0, client.scaleOnHost(cmd.hostId, cmd.request));
      case "start-provider":
        if (cmd.restart) await client.stopProviderOn(cmd.hostId, cmd.component);
        return this.noteRefusal(
          `${app} ${cmd.component} ${cmd.ref}`,
          cmd.hostId,
          true,
          client.startProviderOn(cmd.hostId, { providerId: cmd.component, ref: cmd.ref, ...(cmd.config ? { config: cmd.config } : {}) }),
        );
      case "stop-provider-on":
        return client.stopProviderOn(cmd.hostId, cmd.component);
      case "put-link":
        return state.putLink(cmd.link);
      case "stop-actor":
        return client.stopActor(cmd.id);
      case "stop-provider":
        return client.stopProvider(cmd.id);
      case "unlink":
        return state.deleteLink(cmd.link.source, cmd.link.interface, cmd.link.name);
      case "remove-config":
        return state.deleteConfig(cmd.name);
    }
  }

  /** A start that the host refuses (claims, policy, nothing to run it with) keeps that host out of the placement for a while. */
  private async noteRefusal<T>(key: string, hostId: string, starting: boolean, op: Promise<T>): Promise<T> {
    try {
      return await op;
    } catch (e) {
      const error = toWireError(e);
      if (starting && isRefusal(error)) {
        const hosts = this.refusals.get(key) ?? new Map<string, { reason: string; until: number }>();
        hosts.set(hostId, { reason: `${error.code}: ${error.message}`, until: Date.now() + REFUSAL_TTL_MS });
        this.refusals.set(key, hosts);
      }
      throw e;
    }
  }

  /**
   * Every operation and status write checks the lease first: a pass can outlast the term it
   * started in (a slow start, a blocked event loop), and another host may lead by then. An
   * operation already sent completes; none follows it.
   */
  assertLeading(): void {
    if (!this.o.leading()) throw new LeaseLost();
  }
}
