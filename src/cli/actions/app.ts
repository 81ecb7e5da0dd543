/** What `lattice app deploy|validate|list|status|versions|undeploy|rollback` do. */
import { readFile } from "node:fs/promises";
import type { NatsConnection } from "@nats-io/nats-core";
import { AppStore } from "../../apps/app-store.js";
import { ManifestError, parseManifest, type LatticeChecks } from "../../apps/manifest.js";
import { LatticeClient } from "../../ctl/lattice-client.js";
import { plural } from "../../ctl/wording.js";
import { ArtifactStore } from "../../nats/artifact-store.js";
import { BUILTIN_PROVIDERS } from "../../provider/node-launcher.js";
import { MAX_MANIFEST_BYTES, assertAppName, isLatticeError, messageOf, type AppRecord, type AppStatus, type HostInventory, type Manifest } from "../../protocol/index.js";
import type { StoreOpts } from "../commands/artifacts.js";
import { withConnection } from "../connect.js";
import { CliError } from "../errors.js";
import type { OutputOpts } from "../lattice-options.js";
import { formatAge, formatDuration, printJson, printTable } from "../output.js";

export type WaitOpts = StoreOpts & { wait?: number };
export type DeployOpts = WaitOpts & { checkArtifacts: boolean };

/** What a manifest is checked against without asking the lattice. */
const OFFLINE_CHECKS: LatticeChecks = { builtinProviders: BUILTIN_PROVIDERS };

function withStore<T>(opts: StoreOpts, fn: (s: AppStore, nc: NatsConnection) => Promise<T>): Promise<T> {
  return withConnection(opts, (nc) => fn(new AppStore(nc, opts.lattice, { domain: opts.jsDomain, timeoutMs: Math.max(opts.timeout, 5_000) }), nc));
}

async function readManifestText(file: string): Promise<string> {
  try {
    const bytes = await readFile(file);
    if (bytes.length > MAX_MANIFEST_BYTES) throw new CliError(`${file} is ${bytes.length} bytes, over the manifest limit of ${MAX_MANIFEST_BYTES}`);
    return bytes.toString("utf8");
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

function checkedManifest(text: string, file: string, opts: OutputOpts, checks: LatticeChecks): Manifest {
  try {
    return parseManifest(text, file, checks);
  } catch (e) {
    if (e instanceof ManifestError && opts.output === "json") {
      printJson({ valid: false, file, problems: e.problems });
      throw new CliError(`${file}: ${plural(e.problems.length, "problem")}`);
    }
    throw e instanceof ManifestError ? new CliError(e.message) : e;
  }
}

interface StoredArtifacts {
  artifacts?: LatticeChecks["artifacts"];
  /** Why they could not be listed. */
  warning?: string;
}

/**
 * The versions in the lattice's artifact store, to check a manifest's actors against; a warning
 * instead when the store cannot be read (the reconciler then finds a missing artifact itself).
 */
async function storedArtifacts(nc: NatsConnection, opts: StoreOpts): Promise<StoredArtifacts> {
  try {
    const stored = await new ArtifactStore(nc, opts.lattice, { domain: opts.jsDomain, timeoutMs: Math.max(opts.timeout, 5_000) }).list();
    return { artifacts: { lattice: opts.lattice, stored } };
  } catch (e) {
    return { warning: `the artifact store cannot be read (${isLatticeError(e) ? e.message : String(e)})` };
  }
}

/** Poll the app's status until `done` says so; throws with the last status's reasons on timeout. */
async function waitFor(store: AppStore, name: string, ms: number, what: string, done: (s: AppStatus | undefined, r: AppRecord | undefined) => boolean): Promise<AppStatus | undefined> {
  let last: AppStatus | undefined;
  const deadline = Date.now() + ms;
  for (;;) {
    const [s, r] = await Promise.all([store.status(name), store.record(name)]);
    last = s;
    if (done(s, r)) return last;
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const why = last ? `${last.phase}${reasonsOf(last).length ? `: ${reasonsOf(last).join("; ")}` : ""}` : "no reconciler has reported yet (is a host running?)";
  throw new CliError(`app ${name} is not ${what} after ${formatDuration(ms)} (${why})`);
}

function reasonsOf(s: AppStatus): string[] {
  return [...s.reasons, ...s.components.flatMap((c) => c.reasons.map((r) => `${c.id}: ${r}`))];
}

export async function deploy(file: string, opts: DeployOpts): Promise<void> {
  const text = await readManifestText(file);
  // What needs no lattice is refused before connecting.
  checkedManifest(text, file, opts, OFFLINE_CHECKS);
  await withStore(opts, async (store, nc) => {
    const found: StoredArtifacts = opts.checkArtifacts ? await storedArtifacts(nc, opts) : {};
    if (found.warning) process.stderr.write(`warning: actor artifacts not checked: ${found.warning}\n`);
    const manifest = checkedManifest(text, file, opts, { ...OFFLINE_CHECKS, artifacts: found.artifacts });
    const r = await store.deploy(manifest);
    const status = opts.wait ? await waitFor(store, manifest.name, opts.wait, `deployed at ${manifest.version}`, (s) => s?.version === manifest.version && s.phase === "deployed") : undefined;
    if (opts.output === "json") return printJson({ app: manifest.name, version: manifest.version, previous: r.previous, unchanged: r.unchanged, ...(status ? { status } : {}) });
    const was = r.unchanged ? " (already the deployed version)" : r.previous ? ` (was ${r.previous})` : "";
    process.stdout.write(`app ${manifest.name} ${manifest.version} deployed${was}${status ? "; running as declared" : ""}\n`);
  });
}

export async function validate(file: string, opts: StoreOpts): Promise<void> {
  const text = await readManifestText(file);
  checkedManifest(text, file, opts, OFFLINE_CHECKS);
  const found = await withConnection(opts, (nc) => storedArtifacts(nc, opts)).catch((e: unknown): StoredArtifacts => ({
    warning: `lattice ${opts.lattice} cannot be reached at ${opts.natsUrl} (${messageOf(e)})`,
  }));
  if (found.warning) process.stderr.write(`note: actor artifacts not checked: ${found.warning}\n`);
  const m = checkedManifest(text, file, opts, { ...OFFLINE_CHECKS, artifacts: found.artifacts });
  if (opts.output === "json") return printJson({ valid: true, file, app: m.name, version: m.version, artifactsChecked: found.artifacts !== undefined });
  const links = m.links ?? [];
  process.stdout.write(`${file}: app ${m.name} ${m.version}, ${plural(m.components.length, "component")}, ${plural(links.length, "link")}: valid\n`);
}

export function list(opts: StoreOpts): Promise<void> {
  return withStore(opts, async (store) => {
    const records = await store.records();
    const rows = await Promise.all(records.map(async (r) => ({ record: r, status: await store.status(r.name) })));
    if (opts.output === "json") return printJson(rows.map(({ record, status }) => ({ ...record, phase: status?.phase ?? "pending", status: status ?? null })));
    const now = Date.now();
    printTable(
      ["NAME", "VERSION", "PHASE", "INSTANCES", "UPDATED"],
      rows.map(({ record, status }) => [record.name, record.deployed ?? "-", status?.phase ?? "pending", status ? counts(status) : "-", formatAge(record.updatedAt, now)]),
    );
  });
}

/** `running/desired` over all components. */
function counts(s: AppStatus): string {
  const sum = (m: Record<string, number>) => Object.values(m).reduce((n, x) => n + x, 0);
  return `${s.components.reduce((n, c) => n + sum(c.running), 0)}/${s.components.reduce((n, c) => n + sum(c.desired), 0)}`;
}

/** One component as a host runs it now (its inventory), with the ref it runs. */
interface LiveComponent {
  component: string;
  kind: "actor" | "provider";
  hostId: string;
  hostName: string;
  ref: string;
  instances: number;
}

/** What the hosts run now of the status's components: the versions running, beside the desired ones. */
function liveComponents(inventories: HostInventory[], status: AppStatus | undefined): LiveComponent[] {
  const out: LiveComponent[] = [];
  for (const c of status?.components ?? []) {
    for (const inv of inventories) {
      const host = { hostId: inv.host.id, hostName: inv.host.name };
      if (c.kind === "actor") {
        const a = inv.actors.find((x) => x.id === c.id && x.instances > 0);
        if (a) out.push({ component: c.id, kind: c.kind, ...host, ref: a.ref, instances: a.instances });
      } else {
        const p = inv.providers.find((x) => x.id === c.id && x.state !== "stopped");
        if (p) out.push({ component: c.id, kind: c.kind, ...host, ref: p.ref, instances: 1 });
      }
    }
  }
  return out;
}

export async function status(name: string, opts: StoreOpts): Promise<void> {
  assertAppName(name);
  await withStore(opts, async (store, nc) => {
    const [record, status] = await Promise.all([store.record(name), store.status(name)]);
    if (!record) throw new CliError(`there is no app ${name} in lattice ${opts.lattice}`);
    const inventories = (await new LatticeClient(nc, opts.lattice, { timeoutMs: opts.timeout }).inventories()).replies;
    const live = liveComponents(inventories, status);
    if (opts.output === "json") return printJson({ ...record, phase: status?.phase ?? "pending", status: status ?? null, live });
    const names = new Map(inventories.map((inv) => [inv.host.id, inv.host.name]));
    const of = status && status.version !== record.deployed ? ` (as last reported, for version ${status.version ?? "(none)"})` : "";
    process.stdout.write(`app ${name} ${record.deployed ?? "(undeploying)"}: ${status ? `${status.phase}${of}` : "pending (no reconciler has reported yet)"}\n`);
    if (!status) return;
    for (const r of status.reasons) process.stdout.write(`  ${r}\n`);
    const rows: string[][] = [];
    const notes: string[] = [];
    for (const c of status.components) {
      const runs = live.filter((l) => l.component === c.id);
      const hosts = [...new Set([...Object.keys(c.desired), ...runs.map((l) => l.hostId)])].sort();
      if (hosts.length === 0) rows.push([c.id, c.kind, "-", "0", "0"]);
      for (const h of hosts) {
        const wanted = c.desired[h] ?? 0;
        const now = runs.find((l) => l.hostId === h);
        rows.push([c.id, c.kind, names.get(h) ?? `${h.slice(0, 8)}… (gone)`, wanted > 0 ? `${wanted} × ${c.ref}` : "0", now ? `${now.instances} × ${now.ref}` : "0"]);
      }
      const other = runs.filter((l) => l.ref !== c.ref);
      if (other.length > 0) {
        const n = other.reduce((sum, l) => sum + l.instances, 0);
        notes.push(`${c.id}: ${plural(n, "instance")} still ${n === 1 ? "runs" : "run"} ${[...new Set(other.map((l) => l.ref))].join(", ")}, not the desired ${c.ref}`);
      }
    }
    printTable(["COMPONENT", "KIND", "HOST", "DESIRED", "RUNNING"], rows);
    for (const n of notes) process.stdout.write(`${n}\n`);
    for (const c of status.components) for (const r of c.reasons) process.stdout.write(`${c.id}: ${r}\n`);
  });
}

export async function versions(name: string, opts: StoreOpts): Promise<void> {
  assertAppName(name);
  await withStore(opts, async (store) => {
    const record = await store.record(name);
    if (!record) throw new CliError(`there is no app ${name} in lattice ${opts.lattice}`);
    if (opts.output === "json") return printJson({ name, deployed: record.deployed, versions: record.versions });
    printTable(["VERSION", "DEPLOYED"], [...record.versions].reverse().map((v) => [v, v === record.deployed ? "*" : ""]));
  });
}

export async function undeploy(name: string, opts: WaitOpts): Promise<void> {
  assertAppName(name);
  await withStore(opts, async (store) => {
    await store.undeploy(name);
    if (opts.wait) await waitFor(store, name, opts.wait, "removed", (_s, r) => r === undefined);
    if (opts.output === "json") return printJson({ app: name, undeployed: true, removed: Boolean(opts.wait) });
    process.stdout.write(opts.wait ? `app ${name} removed\n` : `app ${name} is being removed (see \`lattice app status ${name}\`)\n`);
  });
}

export async function rollback(name: string, version: string, opts: WaitOpts): Promise<void> {
  await withStore(opts, async (store) => {
    const r = await store.rollback(name, version);
    const status = opts.wait ? await waitFor(store, name, opts.wait, `deployed at ${version}`, (s) => s?.version === version && s.phase === "deployed") : undefined;
    if (opts.output === "json") return printJson({ app: name, version, previous: r.previous, unchanged: r.unchanged, ...(status ? { status } : {}) });
    process.stdout.write(`app ${name} rolled back to ${version}${r.previous ? ` (was ${r.previous})` : ""}\n`);
  });
}
