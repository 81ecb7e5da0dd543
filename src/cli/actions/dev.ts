/**
 * What `lattice dev` does: build the actor, find or start a lattice, start the actor, then on
 * every save build again and make the new version live on every instance (dev-deploy.ts) while
 * the previous one keeps serving until then. A version that fails (syntax or type error, an
 * import its world lacks, a component that does not start) is reported in one line and the
 * previous one goes on serving. Ctrl-C stops the actor and the lattice, if this command started
 * them, and nothing else.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { basename, dirname, extname, join, resolve } from "node:path";
import type { Command } from "commander";
import type TS from "typescript";
import type { NatsConnection } from "@nats-io/nats-core";
import { ActorBuildError, type HttpHandler } from "../../actor/build.js";
import { DevBuilder, type DevBuild } from "../../actor/dev-builder.js";
import { TypeChecker, localModules } from "../../actor/dev-sources.js";
import { SourceWatcher } from "../../actor/dev-watch.js";
import { assertTargetId, isLatticeError } from "../../protocol/index.js";
import type { JsDomainOpts } from "../commands/artifacts.js";
import { openConnection } from "../connect.js";
import { CliError, describeError } from "../errors.js";
import type { OutputOpts } from "../lattice-options.js";
import { untilSignal } from "../signals.js";
import { DevDeployer } from "./dev-deploy.js";
import { ensureLattice, type DevLattice, type DevLatticeOpts } from "./dev-lattice.js";
import { DevOutput } from "./dev-output.js";

export type DevOpts = DevLatticeOpts &
  OutputOpts &
  JsDomainOpts & {
    wit?: string;
    world?: string;
    id?: string;
    scale: number;
    httpHandler?: HttpHandler;
    disable?: string;
  };

export async function dev(sourceArg: string, opts: DevOpts, command: Command): Promise<void> {
  const source = resolve(sourceArg);
  if (!existsSync(source)) throw new CliError(`source not found: ${sourceArg}`);
  const witDir = resolve(opts.wit ?? join(dirname(source), "wit"));
  const actorId = opts.id ?? defaultId(source);
  try {
    assertTargetId(actorId);
  } catch (e) {
    throw new CliError(`${isLatticeError(e) ? e.message : String(e)}${opts.id === undefined ? " (the id comes from the source's name: give one with --id)" : ""}`);
  }
  const out = new DevOutput(opts.output, process.stderr.isTTY === true, actorId);
  const signalled = untilSignal();
  const ts = (await import("typescript")).default;
  const session = new DevSession(source, witDir, actorId, opts, out, ts);
  let lattice: DevLattice | undefined;
  let nc: NatsConnection | undefined;
  try {
    out.step("starting the lattice");
    lattice = await Promise.race([ensureLattice(opts, command), signalled.then(() => undefined)]);
    if (!lattice) return;
    out.lattice(lattice);
    nc = await openConnection({ ...opts, natsUrl: lattice.natsUrl }, true);
    session.attach(new DevDeployer(nc, opts.lattice, { actorId, instances: opts.scale, ...(opts.jsDomain !== undefined ? { jsDomain: opts.jsDomain } : {}) }));
    session.start();
    await signalled;
  } finally {
    out.step("stopping");
    const stopped = await session.stop();
    await nc?.close().catch(() => undefined);
    await lattice?.started?.stop();
    out.stopped(stopped, lattice?.started !== undefined);
  }
}

/** The source's file name, made an actor id. */
function defaultId(source: string): string {
  return basename(source, extname(source))
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, "-")
    .replace(/^[-_]+/, "")
    .slice(0, 64);
}

/** The loop: a change, a build, a deploy; changes meanwhile make one more round after it. */
class DevSession {
  private readonly builder = new DevBuilder();
  private readonly checker: TypeChecker;
  private readonly watcher: SourceWatcher;
  private deployer: DevDeployer | undefined;
  private round: Promise<void> | undefined;
  /** A change came while a round ran: run another once it is done, from this time. */
  private pendingSince: number | undefined;
  /** The content of the last version tried, to skip saves that changed nothing. */
  private lastTried: string | undefined;
  private version = 0;
  private stopping = false;

  constructor(
    private readonly source: string,
    private readonly witDir: string,
    private readonly actorId: string,
    private readonly opts: DevOpts,
    private readonly out: DevOutput,
    private readonly ts: typeof TS,
  ) {
    this.checker = new TypeChecker(ts, source);
    this.watcher = new SourceWatcher((at) => this.changed(at));
  }

  attach(deployer: DevDeployer): void {
    this.deployer = deployer;
  }

  start(): void {
    this.changed(Date.now());
  }

  /** Stop watching and building, let a deploy under way finish, then stop the actor if this session started it. */
  async stop(): Promise<number> {
    this.stopping = true;
    this.watcher.close();
    this.builder.close();
    await this.round?.catch(() => undefined);
    try {
      return (await this.deployer?.stop()) ?? 0;
    } catch (e) {
      this.out.error("stop", describeError(e));
      return 0;
    }
  }

  private changed(at: number): void {
    if (this.stopping) return;
    if (this.round) {
      this.pendingSince ??= at;
      return;
    }
    this.round = (async () => {
      for (let since: number | undefined = at; since !== undefined && !this.stopping; ) {
        this.pendingSince = undefined;
        await this.once(since).catch((e: unknown) => this.out.error("internal", describeError(e)));
        since = this.pendingSince;
      }
    })().finally(() => (this.round = undefined));
  }

  private async once(since: number): Promise<void> {
    const files = localModules(this.ts, this.source);
    this.watcher.set(files, this.witDir);
    const fingerprint = contentOf([...files, ...witFiles(this.witDir)]);
    if (fingerprint === this.lastTried) return;
    this.lastTried = fingerprint;
    const version = ++this.version;
    this.out.step("building", { version });
    const disable = this.opts.disable
      ?.split(",")
      .map((f) => f.trim())
      .filter((f) => f !== "");
    const building = this.builder
      .build({
        source: this.source,
        witDir: this.witDir,
        ...(this.opts.world !== undefined ? { world: this.opts.world } : {}),
        ...(disable ? { disableFeatures: disable } : {}),
        ...(this.opts.httpHandler ? { httpHandler: this.opts.httpHandler } : {}),
      })
      .then(
        (b): { built: DevBuild } => ({ built: b }),
        (e: unknown): { error: unknown } => ({ error: e }),
      );
    // While componentize-js runs in its process, the types are checked here.
    const typeError = this.checker.check(files);
    const r = await building;
    if (this.stopping) return;
    if ("error" in r) {
      if (r.error instanceof ActorBuildError) return this.out.error("build", r.error.message, { version });
      throw r.error;
    }
    if (typeError !== undefined) return this.out.error("typecheck", typeError, { version });
    this.out.built(version, r.built);
    try {
      const d = await this.deployer!.deploy(r.built.bytes, (step, ref) => this.out.step(step, { version, ...(ref ? { ref } : {}) }));
      this.out.live(version, d, Date.now() - since, r.built);
    } catch (e) {
      this.out.error("start", isLatticeError(e) ? e.message : describeError(e), { version });
    }
  }
}

/** The `.wit` files of a WIT path, its deps included. */
function witFiles(path: string): string[] {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return [];
  if (!st.isDirectory()) return [path];
  return readdirSync(path, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? witFiles(join(path, e.name)) : e.name.endsWith(".wit") ? [join(path, e.name)] : []));
}

function contentOf(files: string[]): string {
  const h = createHash("sha256");
  for (const f of files.sort()) {
    h.update(`${f}\0`);
    try {
      h.update(readFileSync(f));
    } catch {
      h.update("(missing)");
    }
  }
  return h.digest("hex");
}
