/** `lattice push FILE.wasm --name NAME[:VERSION]`: store a component in the lattice's artifact store (what it does: actions/push.ts). */
import { Command, InvalidArgumentError, Option } from "commander";
import type { PushOpts } from "../actions/push.js";
import { parseArtifactRef, type ArtifactRef } from "../../protocol/artifacts.js";
import { isLatticeError } from "../../protocol/errors.js";
import { withStoreOptions } from "./artifacts.js";

function artifactRef(value: string): ArtifactRef {
  try {
    return parseArtifactRef(value);
  } catch (e) {
    throw new InvalidArgumentError(isLatticeError(e) ? e.message : String(e));
  }
}

export function pushCommand(): Command {
  const cmd = new Command("push")
    .description("push a WebAssembly component to the lattice's artifact store; NAME:latest then points at it")
    .argument("<file>", "the component (.wasm)")
    .addOption(
      new Option("--name <name[:version]>", "artifact name and version; without a version, one is derived from the digest")
        .makeOptionMandatory()
        .argParser(artifactRef),
    )
    .action(async (file: string, opts: PushOpts) => (await import("../actions/push.js")).push(file, opts));
  return withStoreOptions(cmd);
}
