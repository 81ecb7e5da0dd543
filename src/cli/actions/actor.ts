/** What `lattice start actor|provider`, `lattice scale actor` and `lattice stop actor|provider` do. */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { plural, type PlacementResult } from "../../ctl/index.js";
import { LATEST, formatArtifactRef, parseArtifactRef } from "../../protocol/index.js";
import type { StoreOpts } from "../commands/artifacts.js";
import { withClient } from "../connect.js";
import { CliError } from "../errors.js";
import type { LatticeOpts, OutputOpts } from "../lattice-options.js";
import { printJson } from "../output.js";
import { isBuiltinProvider } from "../../provider/node-launcher.js";
import { withArtifactStore } from "./artifacts.js";
import { readComponent } from "./push.js";

export type ActorOpts = StoreOpts;
export type StartOpts = ActorOpts & { id: string; scale: number; host?: string; constraint?: Record<string, string>; config?: Record<string, string> };
export type StartProviderOpts = LatticeOpts & OutputOpts & { timeout: number; id: string; host?: string; constraint?: Record<string, string>; config?: Record<string, string> };

/** Commands that place instances wait longer than queries: hosts fetch and compile first. */
const PLACE_TIMEOUT_MS = 60_000;

function finish(opts: OutputOpts, what: string, actorId: string, r: PlacementResult): void {
  const name = hostNamer(r);
  if (opts.output === "json") printJson(r);
  else {
    for (const x of r.results) process.stdout.write(`${what} actor ${x.actor.id} (${x.actor.ref}) on host ${name(x)}: ${x.previous} -> ${plural(x.actor.instances, "instance")}\n`);
    if (r.results.length === 0 && r.errors.length === 0 && r.unplaced === 0) process.stdout.write("nothing to change\n");
    for (const s of r.skipped) process.stderr.write(`skipped host ${name(s)}: ${s.reason}\n`);
  }
  for (const e of r.errors) process.stderr.write(`host ${name(e)}: ${e.error.code}: ${e.error.message}\n`);
  const problems = [
    ...(r.unplaced > 0 ? [`${plural(r.unplaced, "instance")} of actor ${actorId} found no host that takes ${r.unplaced === 1 ? "it" : "them"}`] : []),
    ...(r.errors.length > 0 ? [`${plural(r.errors.length, "host")} failed`] : []),
  ];
  if (problems.length > 0) throw new CliError(`${problems.join("; ")}; see above`);
}

/** Hosts by name; a name that several hosts in the result share gets the start of the id too. */
function hostNamer(r: PlacementResult): (h: { hostId: string; hostName: string }) => string {
  const ids = new Map<string, Set<string>>();
  for (const h of [...r.results, ...r.skipped, ...r.errors]) ids.set(h.hostName, (ids.get(h.hostName) ?? new Set()).add(h.hostId));
  return (h) => ((ids.get(h.hostName)?.size ?? 0) > 1 ? `${h.hostName} (${h.hostId.slice(0, 8)}…)` : h.hostName);
}

/** A REF naming a file is pushed to the artifact store first, as `<id>:<digest>`, so every host can fetch it. */
async function resolveRef(ref: string, opts: StartOpts): Promise<string> {
  if (!existsSync(ref)) {
    if (ref.includes("/")) throw new CliError(`cannot read ${ref}: no such file`);
    return formatArtifactRef(parseArtifactRef(ref));
  }
  const bytes = await readComponent(ref);
  const info = await withArtifactStore(opts, (s) => s.put({ name: opts.id.toLowerCase(), version: LATEST }, bytes));
  if (opts.output !== "json") process.stderr.write(`pushed ${ref} as ${formatArtifactRef(info)}\n`);
  return formatArtifactRef(info);
}

export async function startActor(refArg: string, opts: StartOpts): Promise<void> {
  const ref = await resolveRef(refArg, opts);
  const r = await withClient(opts, (c) =>
    c.startActor({ actorId: opts.id, ref, instances: opts.scale, hostId: opts.host, constraints: opts.constraint, config: opts.config, timeoutMs: Math.max(opts.timeout, PLACE_TIMEOUT_MS) }),
  );
  finish(opts, "started", opts.id, r);
}

/** The time a host has to start a provider process and hear it is ready. */
const PROVIDER_START_TIMEOUT_MS = 30_000;

/** A REF naming a local file goes to the host as an absolute path (relative ones would be resolved in the host's directory). */
function providerRef(ref: string): string {
  if (!isBuiltinProvider(ref) && existsSync(ref)) return resolve(ref);
  return ref;
}

export async function startProvider(refArg: string, opts: StartProviderOpts): Promise<void> {
  const ref = providerRef(refArg);
  const r = await withClient(opts, (c) =>
    c.startProvider({ providerId: opts.id, ref, hostId: opts.host, constraints: opts.constraint, config: opts.config, timeoutMs: Math.max(opts.timeout, PROVIDER_START_TIMEOUT_MS) }),
  );
  if (opts.output === "json") return printJson(r);
  const p = r.provider;
  for (const s of r.skipped) process.stderr.write(`skipped host ${s.hostName}: ${s.reason}\n`);
  process.stdout.write(`started provider ${p.id} (${p.ref}) on host ${r.hostName}: ${p.state}${p.pid !== undefined ? `, pid ${p.pid}` : ""}\n`);
}

export async function scaleActor(id: string, count: number, opts: ActorOpts): Promise<void> {
  if (count === 0) return stopActor(id, opts);
  const r = await withClient(opts, (c) => c.scaleActor(id, count, Math.max(opts.timeout, PLACE_TIMEOUT_MS)));
  finish(opts, "scaled", id, r);
}

export async function stopActor(id: string, opts: ActorOpts): Promise<void> {
  const stopped = await withClient(opts, (c) => c.stopActor(id));
  if (opts.output === "json") return printJson({ id, stopped });
  if (stopped === 0) throw new CliError(`actor ${id} is not running in lattice ${opts.lattice}`);
  process.stdout.write(`stopped actor ${id} (${plural(stopped, "instance")})\n`);
}

export async function stopProvider(id: string, opts: ActorOpts): Promise<void> {
  const stopped = await withClient(opts, (c) => c.stopProvider(id));
  if (opts.output === "json") return printJson({ id, stopped });
  if (stopped === 0) throw new CliError(`provider ${id} is not running in lattice ${opts.lattice}`);
  process.stdout.write(`stopped provider ${id} (on ${plural(stopped, "host")})\n`);
}
