/**
 * Builds for `lattice dev`: `buildActor` as `lattice build` runs it, with componentize-js in one
 * long-lived child process (dev-build-server.ts) that keeps the WIT world's spliced engine
 * between builds and patches the steps after wizer. Node only.
 */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { ChildJob, ChildResult } from "./build-child.js";
import { buildActor, ComponentizeFailure, type BuildActorOptions, type BuiltActor } from "./build.js";
import type { ServerReply, ServerRequest, StepsRun } from "./dev-build-server.js";

const CHILD_PATH = fileURLToPath(new URL("./build-child.js", import.meta.url));
const SERVE_FLAG = "--serve";

export interface DevBuild extends BuiltActor {
  /** How long componentize-js took in the server. */
  componentizeMs: number;
  /** Whether this build spliced the engine (the first for its WIT world) or reused the splice. */
  spliced: boolean;
  /** Which steps of componentize-js ran in full (the others were reused or patched). */
  steps: StepsRun;
}

export class DevBuilder {
  private server: ChildProcess | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: ServerReply) => void; reject: (e: Error) => void }>();
  private output = "";
  private last: { ms: number; steps: StepsRun } = { ms: 0, steps: { splice: false, stub: false, encode: false } };
  private readonly killOnExit = () => this.kill();

  /** Build as {@link buildActor} does; throws its ActorBuildError for what the author can fix. */
  async build(opts: Omit<BuildActorOptions, "componentizer" | "signal">): Promise<DevBuild> {
    const built = await buildActor({ ...opts, componentizer: (job, tmp) => this.componentize(job, tmp) });
    return { ...built, componentizeMs: this.last.ms, spliced: this.last.steps.splice, steps: this.last.steps };
  }

  /** Stop the server (and a wizer it runs). */
  close(): void {
    this.kill();
  }

  private async componentize(job: ChildJob, tmp: string): Promise<ChildResult> {
    const server = this.ensureServer();
    const id = this.nextId++;
    const reply = await new Promise<ServerReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const req: ServerRequest = { id, job, tmp };
      server.send(req);
    });
    if (!reply.ok) throw new ComponentizeFailure(reply.error);
    this.last = { ms: reply.ms, steps: reply.steps };
    return reply.result;
  }

  private ensureServer(): ChildProcess {
    if (this.server && this.server.exitCode === null && this.server.signalCode === null) return this.server;
    this.output = "";
    // A process group of its own: closing kills wizer with it, and a Ctrl-C at the terminal
    // reaches `lattice dev`, which closes it, rather than the middle of a build.
    const child = fork(CHILD_PATH, [SERVE_FLAG], { stdio: ["ignore", "pipe", "pipe", "ipc"], detached: true });
    // What the actor's top-level code prints while it is pre-initialised, for a crash report.
    const keep = (d: Buffer) => (this.output = (this.output + d.toString()).slice(-8_000));
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    child.on("message", (reply: ServerReply) => {
      const p = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      p?.resolve(reply);
    });
    child.on("exit", (code, signal) => {
      if (this.server === child) this.server = undefined;
      const why = `componentize-js exited ${signal ?? code}${this.output ? `: ${this.output.trim()}` : ""}`;
      for (const p of this.pending.values()) p.reject(new ComponentizeFailure(why));
      this.pending.clear();
    });
    // Not kept alive by it: `lattice dev` ends when its work is done.
    child.unref();
    child.channel?.unref();
    process.once("exit", this.killOnExit);
    this.server = child;
    return child;
  }

  private kill(): void {
    const child = this.server;
    this.server = undefined;
    process.off("exit", this.killOnExit);
    if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // The group is gone already.
    }
  }
}
