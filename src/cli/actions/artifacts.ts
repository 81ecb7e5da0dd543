/** What `lattice get artifacts` and `lattice delete artifact` do; the artifact store for other actions. */
import { ArtifactStore, shortDigest } from "../../nats/artifact-store.js";
import { ErrorCode, formatArtifactRef, isLatticeError, parseArtifactRef } from "../../protocol/index.js";
import type { JsDomainOpts, StoreOpts } from "../commands/artifacts.js";
import { withConnection } from "../connect.js";
import { CliError } from "../errors.js";
import type { LatticeOpts } from "../lattice-options.js";
import { formatAge, formatBytes, printJson, printTable } from "../output.js";

/** Open the lattice's artifact store for a one-shot command and close the connection after `fn`. */
export function withArtifactStore<T>(opts: LatticeOpts & JsDomainOpts & { timeout?: number }, fn: (s: ArtifactStore) => Promise<T>): Promise<T> {
  return withConnection(opts, (nc) => fn(new ArtifactStore(nc, opts.lattice, { domain: opts.jsDomain, timeoutMs: opts.timeout })));
}

export async function listArtifacts(name: string | undefined, opts: StoreOpts): Promise<void> {
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
}

export async function deleteArtifact(text: string, opts: StoreOpts): Promise<void> {
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
}
