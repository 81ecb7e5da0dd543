/** What `lattice push` does; reading a component file for the commands that take one. */
import { readFile } from "node:fs/promises";
import { assertComponent } from "../../nats/wasm-binary.js";
import { formatArtifactRef, messageOf, type ArtifactRef } from "../../protocol/index.js";
import type { StoreOpts } from "../commands/artifacts.js";
import { CliError } from "../errors.js";
import { formatBytes, printJson } from "../output.js";
import { withArtifactStore } from "./artifacts.js";

export type PushOpts = StoreOpts & { name: ArtifactRef };

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

export async function push(file: string, opts: PushOpts): Promise<void> {
  const bytes = await readComponent(file);
  const info = await withArtifactStore(opts, (s) => s.put(opts.name, bytes));
  if (opts.output === "json") return printJson(info);
  process.stdout.write(`pushed ${formatArtifactRef(info)} (${info.digest}, ${formatBytes(info.size)})\n`);
}
