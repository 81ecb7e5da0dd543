/** `lattice app deploy|validate|list|status|versions|undeploy|rollback`: declarative applications. */
import { readFile } from "node:fs/promises";
import { Command, Option } from "commander";
import type { NatsConnection } from "@nats-io/nats-core";
import { AppStore } from "../../apps/app-store.js";
import { ManifestError, parseManifest } from "../../apps/manifest.js";
import { LatticeClient } from "../../ctl/lattice-client.js";
import { MAX_MANIFEST_BYTES, assertAppName, type AppRecord, type AppStatus, type Manifest } from "../../protocol/index.js";
import { CliError } from "../errors.js";
import { withConnection, withOutputOption, type OutputOpts } from "../lattice-options.js";
import { printJson, printTable } from "../output.js";
import { parseDuration } from "../parse.js";
import { withStoreOptions, type StoreOpts } from "./artifacts.js";

type WaitOpts = StoreOpts & { wait?: number };

function withStore<T>(opts: StoreOpts, fn: (s: AppStore, nc: NatsConnection) => Promise<T>): Promise<T> {
  return withConnection(opts, (nc) => fn(new AppStore(nc, opts.lattice, { domain: opts.jsDomain, timeoutMs: Math.max(opts.timeout, 5_000) }), nc));
}

function withWait(cmd: Command, what: string): Command {
  return cmd.addOption(new Option("--wait [duration]", `wait until ${what} (default 60s)`).argParser(parseDuration).preset("60s"));
}

async function readManifest(file: string, opts: OutputOpts): Promise<Manifest> {
  let text: string;
  try {
    const bytes = await readFile(file);
    if (bytes.length > MAX_MANIFEST_BYTES) throw new CliError(`${file} is ${bytes.length} bytes, over the manifest limit of ${MAX_MANIFEST_BYTES}`);
    text = bytes.toString("utf8");
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  try {
    return parseManifest(text, file);
  } catch (e) {
    if (e instanceof ManifestError && opts.output === "json") {
      printJson({ valid: false, file, problems: e.problems });
      throw new CliError(`${file}: ${e.problems.length} problem(s)`);
    }
    throw e instanceof ManifestError ? new CliError(e.message) : e;
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
  throw new CliError(`app ${name} is not ${what} after ${ms} ms (${why})`);
}

function reasonsOf(s: AppStatus): string[] {
  return [...s.reasons, ...s.components.flatMap((c) => c.reasons.map((r) => `${c.id}: ${r}`))];
}

function deployCommand(): Command {
  return withWait(
    new Command("deploy")
      .description("store a manifest version and make it the one the lattice runs (the reconciler converges to it)")
      .argument("<file>", "the manifest (YAML or JSON); see docs/apps.md"),
    "the app runs as declared",
  ).action(async (file: string, opts: WaitOpts) => {
    const manifest = await readManifest(file, opts);
    await withStore(opts, async (store) => {
      const r = await store.deploy(manifest);
      const status = opts.wait ? await waitFor(store, manifest.name, opts.wait, `deployed at ${manifest.version}`, (s) => s?.version === manifest.version && s.phase === "deployed") : undefined;
      if (opts.output === "json") return printJson({ app: manifest.name, version: manifest.version, previous: r.previous, unchanged: r.unchanged, ...(status ? { status } : {}) });
      const was = r.unchanged ? " (already the deployed version)" : r.previous ? ` (was ${r.previous})` : "";
      process.stdout.write(`app ${manifest.name} ${manifest.version} deployed${was}${status ? "; running as declared" : ""}\n`);
    });
  });
}

function validateCommand(): Command {
  return withOutputOption(
    new Command("validate")
      .description("check a manifest without deploying it: every problem, with its path and line")
      .argument("<file>")
      .action(async (file: string, opts: OutputOpts) => {
        const m = await readManifest(file, opts);
        if (opts.output === "json") return printJson({ valid: true, file, app: m.name, version: m.version });
        process.stdout.write(`${file}: app ${m.name} ${m.version}, ${m.components.length} component(s), ${(m.links ?? []).length} link(s): valid\n`);
      }),
  );
}

function listCommand(): Command {
  return new Command("list").description("the deployed apps and their state").action(async (opts: StoreOpts) =>
    withStore(opts, async (store) => {
      const records = await store.records();
      const rows = await Promise.all(records.map(async (r) => ({ record: r, status: await store.status(r.name) })));
      if (opts.output === "json") return printJson(rows.map(({ record, status }) => ({ ...record, phase: status?.phase ?? "pending", status: status ?? null })));
      printTable(
        ["NAME", "VERSION", "PHASE", "INSTANCES", "UPDATED"],
        rows.map(({ record, status }) => [record.name, record.deployed ?? "-", status?.phase ?? "pending", status ? counts(status) : "-", record.updatedAt]),
      );
    }),
  );
}

/** `running/desired` over all components. */
function counts(s: AppStatus): string {
  const sum = (m: Record<string, number>) => Object.values(m).reduce((n, x) => n + x, 0);
  return `${s.components.reduce((n, c) => n + sum(c.running), 0)}/${s.components.reduce((n, c) => n + sum(c.desired), 0)}`;
}

function statusCommand(): Command {
  return new Command("status")
    .description("per component: desired and running instances on each host, and why they differ")
    .argument("<name>")
    .action(async (name: string, opts: StoreOpts) => {
      assertAppName(name);
      await withStore(opts, async (store, nc) => {
        const [record, status] = await Promise.all([store.record(name), store.status(name)]);
        if (!record) throw new CliError(`there is no app ${name} in lattice ${opts.lattice}`);
        if (opts.output === "json") return printJson({ ...record, phase: status?.phase ?? "pending", status: status ?? null });
        const names = new Map((await new LatticeClient(nc, opts.lattice, { timeoutMs: opts.timeout }).hosts()).replies.map((h) => [h.id, h.name]));
        process.stdout.write(`app ${name} ${record.deployed ?? "(undeploying)"}: ${status?.phase ?? "pending (no reconciler has reported yet)"}\n`);
        if (!status) return;
        for (const r of status.reasons) process.stdout.write(`  ${r}\n`);
        const rows: string[][] = [];
        for (const c of status.components) {
          const hosts = [...new Set([...Object.keys(c.desired), ...Object.keys(c.running)])].sort();
          if (hosts.length === 0) rows.push([c.id, c.kind, c.ref, "-", "0", "0"]);
          for (const h of hosts) rows.push([c.id, c.kind, c.ref, names.get(h) ?? `${h.slice(0, 8)}… (gone)`, String(c.desired[h] ?? 0), String(c.running[h] ?? 0)]);
        }
        printTable(["COMPONENT", "KIND", "REF", "HOST", "DESIRED", "RUNNING"], rows);
        for (const c of status.components) for (const r of c.reasons) process.stdout.write(`${c.id}: ${r}\n`);
      });
    });
}

function versionsCommand(): Command {
  return new Command("versions")
    .description("the stored versions of an app (rollback targets)")
    .argument("<name>")
    .action(async (name: string, opts: StoreOpts) => {
      assertAppName(name);
      await withStore(opts, async (store) => {
        const record = await store.record(name);
        if (!record) throw new CliError(`there is no app ${name} in lattice ${opts.lattice}`);
        if (opts.output === "json") return printJson({ name, deployed: record.deployed, versions: record.versions });
        printTable(["VERSION", "DEPLOYED"], [...record.versions].reverse().map((v) => [v, v === record.deployed ? "*" : ""]));
      });
    });
}

function undeployCommand(): Command {
  return withWait(new Command("undeploy").description("remove everything the app created, and the app").argument("<name>"), "everything is removed").action(
    async (name: string, opts: WaitOpts) => {
      assertAppName(name);
      await withStore(opts, async (store) => {
        await store.undeploy(name);
        if (opts.wait) await waitFor(store, name, opts.wait, "removed", (_s, r) => r === undefined);
        if (opts.output === "json") return printJson({ app: name, undeployed: true, removed: Boolean(opts.wait) });
        process.stdout.write(opts.wait ? `app ${name} removed\n` : `app ${name} is being removed (see \`lattice app status ${name}\`)\n`);
      });
    },
  );
}

function rollbackCommand(): Command {
  return withWait(new Command("rollback").description("deploy a stored earlier version again").argument("<name>").argument("<version>"), "the app runs that version").action(
    async (name: string, version: string, opts: WaitOpts) => {
      await withStore(opts, async (store) => {
        const r = await store.rollback(name, version);
        const status = opts.wait ? await waitFor(store, name, opts.wait, `deployed at ${version}`, (s) => s?.version === version && s.phase === "deployed") : undefined;
        if (opts.output === "json") return printJson({ app: name, version, previous: r.previous, unchanged: r.unchanged, ...(status ? { status } : {}) });
        process.stdout.write(`app ${name} rolled back to ${version}${r.previous ? ` (was ${r.previous})` : ""}\n`);
      });
    },
  );
}

export function appCommand(): Command {
  return new Command("app")
    .description("declarative apps: deploy a manifest and the lattice keeps it running as declared")
    .addCommand(withStoreOptions(deployCommand()))
    .addCommand(validateCommand())
    .addCommand(withStoreOptions(listCommand()))
    .addCommand(withStoreOptions(statusCommand()))
    .addCommand(withStoreOptions(versionsCommand()))
    .addCommand(withStoreOptions(undeployCommand()))
    .addCommand(withStoreOptions(rollbackCommand()));
}
