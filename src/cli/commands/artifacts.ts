/**
 * `lattice get artifacts` and `lattice delete artifact`: the components in the lattice's artifact
 * store (what they do: actions/artifacts.ts). Also the shared `--js-domain` option.
 */
import { Command, InvalidArgumentError, Option } from "commander";
import { isLatticeError } from "../../protocol/errors.js";
import { assertJetStreamDomain } from "../../protocol/names.js";
import { withLatticeOptions, withOutputOption, withTimeoutOption, type LatticeOpts, type OutputOpts } from "../lattice-options.js";

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

/** The `get artifacts` subcommand, options included: `get.addCommand(artifactsCommand())`. */
export function artifactsCommand(): Command {
  const cmd = new Command("artifacts")
    .description("list the components pushed to the lattice's artifact store (all names, or one)")
    .argument("[name]", "only this artifact name")
    .action(async (name: string | undefined, opts: StoreOpts) => (await import("../actions/artifacts.js")).listArtifacts(name, opts));
  return withStoreOptions(cmd);
}

/** `lattice delete artifact NAME:VERSION`: the undo of `lattice push`. */
export function deleteCommand(): Command {
  const artifact = new Command("artifact")
    .description("remove a pushed component from the lattice's artifact store; NAME:latest then points at the newest version left")
    .argument("<name:version>", "the version to remove (NAME:latest removes only the latest pointer)")
    .action(async (text: string, opts: StoreOpts) => (await import("../actions/artifacts.js")).deleteArtifact(text, opts));
  return new Command("delete").description("remove something from the lattice's stores").addCommand(withStoreOptions(artifact));
}
