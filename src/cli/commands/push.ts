/** `lattice push FILE.wasm --name NAME[:VERSION]`: store a component in the lattice's artifact store. */
import { readFile } from "node:fs/promises";
import { Command, InvalidArgumentError, Option } from "commander";
import { assertComponent } from "../../nats/wasm-binary.js";
import { formatArtifactRef, isLatticeError, parseArtifactRef, messageOf, type ArtifactRef } from "../../protocol/index.js";
import { CliError } from "../errors.js";
import { formatBytes, printJson } from "../output.js";
import { withArtifactStore, withStoreOptions, type StoreOpts } from "./artifacts.js";

type PushOpts = StoreOpts & { name: ArtifactRef };

function artifactRef(value: string): ArtifactRef {
  try {
    return parseArtifactRef(value);
  } catch (e) {
    throw new InvalidArgumentError(isLatticeError(e) ? e.message : String(e));
  }
}

const READ_ERRORS: Record<string, string> = {
  ENOENT: "no such file",
  EISDIR: "it is a directory",
  EACCES: "permission denied",
};

export async function readComponent(file: string): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(file));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "";
    throw new CliError(`cannot read ${file}: ${READ_ERRORS[code] ?? (messageOf(e))}`);
  }
  // Checked here too so the message names the file, not the artifact.
  assertComponent(bytes, file);
  return bytes;
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
    .action(async (file: string, opts: PushOpts) => {
      const bytes = await readComponent(file);
      const info = await withArtifactStore(opts, (s) => s.put(opts.name, bytes));
      if (opts.output === "json") return printJson(info);
      process.stdout.write(`pushed ${formatArtifactRef(info)} (${info.digest}, ${formatBytes(info.size)})\n`);
    });
  return withStoreOptions(cmd);
}
