/**
 * Making a new build of `lattice dev`'s actor live: push it to the lattice's artifact store, then
 * give every host that runs the actor the new ref with the instances it has. A host handed a new
 * ref starts the new instances before it drains the old ones (actor-supervisor.ts), so no call in
 * flight is dropped; a host that fails to start the new version keeps the old one serving.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { LatticeClient } from "../../ctl/index.js";
import { ArtifactStore } from "../../nats/artifact-store.js";
import { ErrorCode, LATEST, LatticeError, formatArtifactRef, parseArtifactRef, type ActorEntry, type HostInventory, type WireError } from "../../protocol/index.js";

const START_TIMEOUT_MS = 60_000;

export interface Deployed {
  ref: string;
  /** Hosts that run the new version, by name. */
  hosts: string[];
  instances: number;
  pushMs: number;
  startMs: number;
}

export class DevDeployer {
  private readonly client: LatticeClient;
  private readonly store: ArtifactStore;
  /** The ref the actor runs now, when it came from this session. */
  private current: string | undefined;
  /** Whether the actor ran before this session: then it is left running at the end. */
  private tookOver = false;
  private stopping = false;

  constructor(
    nc: NatsConnection,
    lattice: string,
    private readonly o: { actorId: string; instances: number; jsDomain?: string },
  ) {
    this.client = new LatticeClient(nc, lattice, { timeoutMs: 2_000 });
    this.store = new ArtifactStore(nc, lattice, { domain: o.jsDomain, timeoutMs: 10_000 });
  }

  /** Push the component, then make it live. */
  async deploy(bytes: Uint8Array, onStep: (step: "pushing" | "starting", ref?: string) => void): Promise<Deployed> {
    const t0 = performance.now();
    onStep("pushing");
    // Asked while the push runs: an inventory waits 250 ms past the last host's answer.
    const inventories = this.client.inventories();
    inventories.catch(() => undefined);
    const info = await this.store.put({ name: this.o.actorId.toLowerCase(), version: LATEST }, bytes);
    const ref = formatArtifactRef(info);
    const pushMs = Math.round(performance.now() - t0);
    onStep("starting", ref);
    const t1 = performance.now();
    let placed: { hosts: string[]; instances: number; errors: string[] };
    try {
      placed = await this.place(ref, (await inventories).replies);
    } catch (e) {
      await this.forget(ref);
      throw e;
    }
    if (placed.errors.length > 0) {
      // Hosts that did start it run the new version; those that failed keep the previous one.
      if (placed.hosts.length === 0) await this.forget(ref);
      else await this.replaced(ref);
      // (The output says which version keeps serving.)
      const some = placed.hosts.length > 0 ? ` (it runs on ${placed.hosts.join(", ")})` : "";
      throw new LatticeError(ErrorCode.Unavailable, `the new version did not start: ${placed.errors.join("; ")}${some}`);
    }
    await this.replaced(ref);
    return { ref, hosts: placed.hosts, instances: placed.instances, pushMs, startMs: Math.round(performance.now() - t1) };
  }

  /** Stop the actor if this session started it, and remove the artifacts it pushed. */
  async stop(): Promise<number> {
    if (this.tookOver) return 0;
    const stopped = this.current !== undefined ? await this.client.stopActor(this.o.actorId) : 0;
    this.stopping = true;
    if (this.current) await this.forget(this.current);
    this.current = undefined;
    return stopped;
  }

  /** Give each host running the actor the new ref; start it when it runs nowhere. */
  private async place(ref: string, inventories: HostInventory[]): Promise<{ hosts: string[]; instances: number; errors: string[] }> {
    const running = inventories.flatMap((inv) => inv.actors.filter((a) => a.id === this.o.actorId && a.instances > 0).map((a) => ({ host: inv.host, actor: a })));
    if (running.length === 0) {
      const r = await this.client.startActor({ actorId: this.o.actorId, ref, instances: this.o.instances, timeoutMs: START_TIMEOUT_MS });
      const errors = r.errors.map((e) => `host ${e.hostName}: ${wireText(e.error)}`);
      if (r.unplaced > 0 && errors.length === 0) errors.push(`${r.unplaced} instance(s) found no host that takes them${r.skipped.length > 0 ? ` (${r.skipped.map((s) => `${s.hostName}: ${s.reason}`).join("; ")})` : ""}`);
      return { hosts: r.results.map((x) => x.hostName), instances: r.results.reduce((n, x) => n + x.actor.instances, 0), errors };
    }
    if (this.current === undefined) this.tookOver = true;
    const results = await Promise.allSettled(running.map(({ host, actor }) => this.replaceOn(host.id, actor, ref)));
    const hosts: string[] = [];
    const errors: string[] = [];
    let instances = 0;
    results.forEach((r, i) => {
      const name = running[i]!.host.name;
      if (r.status === "fulfilled") {
        hosts.push(name);
        instances += r.value;
      } else errors.push(`host ${name}: ${r.reason instanceof LatticeError ? r.reason.message : String(r.reason)}`);
    });
    return { hosts, instances, errors };
  }

  private async replaceOn(hostId: string, actor: ActorEntry, ref: string): Promise<number> {
    const r = await this.client.scaleOnHost(hostId, { actorId: actor.id, ref, instances: actor.instances, constraints: actor.constraints }, START_TIMEOUT_MS);
    return r.actor.instances;
  }

  /** The new ref runs: the previous one this session pushed is not needed any more. */
  private async replaced(ref: string): Promise<void> {
    const previous = this.current;
    this.current = ref;
    if (previous !== undefined && previous !== ref) await this.forget(previous);
  }

  private async forget(ref: string): Promise<void> {
    // The same bytes pushed again are the same version: never remove what runs.
    if (ref === this.current && this.current !== undefined && !this.stopping) return;
    try {
      await this.store.delete(parseArtifactRef(ref));
    } catch {
      // Best effort: a leftover version costs space, not correctness.
    }
  }
}

function wireText(e: WireError): string {
  return e.message;
}
