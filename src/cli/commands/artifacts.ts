/** `lattice get artifacts`: the components in the lattice's artifact store. Also the shared `--js-domain` option. */
import { Command, InvalidArgumentError, Option } from "commander";
import { ArtifactStore, assertJetStreamDomain, shortDigest } from "../../nats/artifact-store.js";
import { isLatticeError } from "../../protocol/index.js";
import { withConnection, withLatticeOptions, withOutputOption, withTimeoutOption, type LatticeOpts, type OutputOpts } from "../lattice-options.js";
import { formatAge, formatBytes, printJson, printTable } from "../output.js";

export interface JsDomainOpts {
  jsDomain?: string;
}

/** The options of a command that works on the lattice's JetStream store. */
export type StoreOpts = LatticeOpts & OutputOpts & JsDomainOpts & { timeout: number };

function jsDomain(value: string): string | undefined {
  // An empty LATTICE_JS_DOMAIN means no domain, like an unset one.
  if (value === "") return undefined;
  try {
    return assertJetStreamDomain(value);
  } catch (e) {
    throw new InvalidArgumentError(isLatticeError(e) ? e.message : String(e));
  }
}

/** Adds --js-domain (env LATTICE_JS_DOMAIN): the JetStream domain of the hub holding the lattice's state. */
export function withJsDomainOption(cmd: Command): Command {
  return cmd.addOption(
    new Option("--js-domain <domain>", "JetStream domain of the hub that holds the lattice's store (needed on leaf nodes)")
      .env("LATTICE_JS_DOMAIN")
      .argParser(jsDomain),
  );
}

/** Adds what a command on the lattice's JetStream store takes: lattice and credentials, -o, --timeout, --js-domain. */
export function withStoreOptions(cmd: Command): Command {
  return withJsDomainOption(withTimeoutOption(withOutputOption(withLatticeOptions(cmd))));
}

/** Open the lattice's artifact store for a one-shot command and close the connection after `fn`. */
export function withArtifactStore<T>(opts: LatticeOpts & JsDomainOpts & { timeout?: number }, fn: (s: ArtifactStore) => Promise<T>): Promise<T> {
  return withConnection(opts, (nc) => fn(new ArtifactStore(nc, opts.lattice, { domain: opts.jsDomain, timeoutMs: opts.timeout })));
}

/** The `get artifacts` subcommand, options included: `get.addCommand(artifactsCommand())`. */
export function artifactsCommand(): Command {
  const cmd = new Command("artifacts")
    .description("list the components pushed to the lattice's artifact store (all names, or one)")
    .argument("[name]", "only this artifact name")
    .action(async (name: string | undefined, opts: StoreOpts) => {
      const all = await withArtifactStore(opts, (s) => s.list());
      const list = name === undefined ? all : all.filter((a) => a.name === name);
      if (opts.output === "json") return printJson(list);
      if (list.length === 0) {
        process.stderr.write(`no artifacts${name === undefined ? "" : ` named ${name}`} in lattice ${opts.lattice}\n`);
        return;
      }
      const now = Date.now();
      printTable(
        ["NAME", "VERSION", "DIGEST", "SIZE", "PUSHED"],
        list.map((a) => [a.name, a.version, shortDigest(a.digest), formatBytes(a.size), formatAge(a.pushedAt, now)]),
      );
    });
  return withStoreOptions(cmd);
}
