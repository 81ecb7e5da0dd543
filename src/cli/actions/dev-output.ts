/**
 * What `lattice dev` prints. `-o json`: one JSON object per event, a line each, on stdout. Text:
 * a line on stdout per version that goes live, and one line on stderr per failure; on a
 * terminal, the step under way (building, pushing, starting) and its time on a line of stderr
 * rewritten in place.
 */
import type { DevBuild } from "../../actor/dev-builder.js";
import { MESSAGE_PREFIX, formatBytes, formatDuration, printJsonLine, type OutputFormat } from "../output.js";
import type { Deployed } from "./dev-deploy.js";
import type { DevLattice } from "./dev-lattice.js";

export type DevStage = "build" | "typecheck" | "start" | "stop" | "internal";

export class DevOutput {
  private stepText = "";
  private stepAt = 0;
  private timer: NodeJS.Timeout | undefined;
  /** The version that serves now, if one went live. */
  private liveVersion: number | undefined;

  constructor(
    private readonly format: OutputFormat,
    private readonly tty: boolean,
    private readonly actorId: string,
  ) {}

  step(step: string, fields: Record<string, unknown> = {}): void {
    if (this.format === "json") return this.emit(step === "starting the lattice" ? "lattice-starting" : step, fields);
    if (!this.tty) return;
    this.stepText = step;
    this.stepAt = Date.now();
    this.draw();
    clearInterval(this.timer);
    this.timer = setInterval(() => this.draw(), 500);
    this.timer.unref();
  }

  lattice(l: DevLattice): void {
    const started = l.started ? (l.started.withNats ? "nats+host" : "host") : null;
    if (this.format === "json") return this.emit("lattice", { natsUrl: l.started?.record.natsUrl ?? l.natsUrl, started, ...(l.started ? { pid: l.started.record.pid, natsPid: l.started.record.natsPid, hostId: l.started.record.hostId } : {}) });
    if (!this.tty) return;
    const what = !l.started
      ? `using the lattice at ${l.natsUrl}`
      : l.started.withNats
        ? `started a lattice: nats-server at ${l.started.record.natsUrl} and host ${l.started.record.hostName} (stopped on Ctrl-C)`
        : `started host ${l.started.record.hostName} on ${l.natsUrl} (stopped on Ctrl-C)`;
    this.line(process.stderr, what);
  }

  built(version: number, b: DevBuild): void {
    if (this.format === "json") {
      return this.emit("built", { version, ms: b.ms, componentizeMs: b.componentizeMs, steps: b.steps, size: b.bytes.length, digest: b.digest });
    }
  }

  live(version: number, d: Deployed, sinceChangeMs: number, b: DevBuild): void {
    if (this.format === "json") {
      this.liveVersion = version;
      return this.emit("live", { version, ref: d.ref, hosts: d.hosts, instances: d.instances, ms: sinceChangeMs, buildMs: b.ms, pushMs: d.pushMs, startMs: d.startMs });
    }
    this.liveVersion = version;
    this.idle();
    const where = `${d.instances} instance${d.instances === 1 ? "" : "s"} on ${d.hosts.join(", ")}`;
    const times = `build ${formatDuration(b.ms)}${b.spliced ? " with the engine spliced for the world" : ""}, push ${formatDuration(d.pushMs)} (${formatBytes(b.bytes.length)}), start ${formatDuration(d.startMs)}`;
    this.line(process.stdout, `live: ${this.actorId} v${version} (${d.ref}), ${where}, ${formatDuration(sinceChangeMs)} after the ${version === 1 ? "start" : "save"} (${times})`);
  }

  error(stage: DevStage, message: string, fields: Record<string, unknown> = {}): void {
    const serving = this.liveVersion !== undefined && stage !== "stop" ? this.liveVersion : undefined;
    if (this.format === "json") return this.emit("error", { stage, message, ...fields, ...(serving !== undefined ? { serving } : {}) });
    this.idle();
    this.line(process.stderr, `${MESSAGE_PREFIX}${message}${serving !== undefined ? ` (v${serving} keeps serving)` : ""}`);
  }

  stopped(actorInstances: number, lattice: boolean): void {
    clearInterval(this.timer);
    if (this.format === "json") return this.emit("stopped", { instances: actorInstances, lattice });
    if (this.tty) this.clear();
  }

  /** No step under way: the step line goes. */
  private idle(): void {
    clearInterval(this.timer);
    this.stepText = "";
  }

  private emit(event: string, fields: Record<string, unknown>): void {
    printJsonLine({ event, actor: this.actorId, ...fields, at: new Date().toISOString() });
  }

  /** A line of its own: the step line cleared first, drawn again after. */
  private line(stream: NodeJS.WriteStream, text: string): void {
    if (this.tty) this.clear();
    stream.write(`${text}\n`);
    if (this.tty && this.stepText) this.draw();
  }

  private clear(): void {
    process.stderr.write("\r\x1b[2K");
  }

  private draw(): void {
    const elapsed = formatDuration(Math.floor((Date.now() - this.stepAt) / 100) * 100);
    process.stderr.write(`\r\x1b[2K${this.actorId}: ${this.stepText} ${elapsed}`);
  }
}
