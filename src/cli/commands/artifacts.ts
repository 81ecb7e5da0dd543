/**
 * `lattice get artifacts` and `lattice delete artifact`: the components in the lattice's artifact
 * store. Also the shared `--js-domain` option.
 */
import { Command, InvalidArgumentError, Option } from "commander";
import { ArtifactStore, assertJetStreamDomain, shortDigest } from "../../nats/artifact-store.js";
import { ErrorCode, formatArtifactRef, isLatticeError, parseArtifactRef } from "../../protocol/index.js";
import { CliError } from "../errors.js";
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

/** `lattice delete artifact NAME:VERSION`: the undo of `lattice push`. */
export function deleteCommand(): Command {
  const artifact = new Command("artifact")
    .description("remove a pushed component from the lattice's artifact store; NAME:latest then points at the newest version left")
    .argument("<name:version>", "the version to remove (NAME:latest removes only the latest pointer)")
    .action(async (text: string, opts: StoreOpts) => {
      // A bare name means NAME:latest elsewhere; here that would quietly remove only the pointer.
      if (!text.includes(":")) {
        throw new CliError(`name the version to delete, e.g. ${text}:1.0 (\`lattice get artifacts ${text}\` lists them; ${text}:latest removes only the latest pointer)`);
      }
      const ref = parseArtifactRef(text);
      try {
        await withArtifactStore(opts, (s) => s.delete(ref));
      } catch (e) {
        if (isLatticeError(e) && e.code === ErrorCode.NotFound) {
          throw new CliError(`there is no artifact ${formatArtifactRef(ref)} in lattice ${opts.lattice} (\`lattice get artifacts\` lists them)`);
        }
        throw e;
      }
      if (opts.output === "json") return printJson({ name: ref.name, version: ref.version, deleted: true });
      process.stdout.write(`deleted artifact ${formatArtifactRef(ref)} from lattice ${opts.lattice}\n`);
    });
  return new Command("delete").description("remove something from the lattice's stores").addCommand(withStoreOptions(artifact));
}
