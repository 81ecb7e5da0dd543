/**
 * The lattice's artifact store: WebAssembly components pushed by `name:version` and fetched by
 * any host, across any number of leaf hops. One JetStream object store bucket per lattice.
 *
 * Transport-agnostic (it takes any `NatsConnection`) and browser-safe: no `node:*` imports.
 *
 * Layout of bucket `lattice_<L>_artifacts`:
 * - `name:version`: the component's bytes; object metadata `lattice.digest` records its
 *   `sha256:<hex>` digest, checked again on every fetch.
 * - `name:latest`: an object-store *link* to the most recently pushed `name:version`. A link is
 *   one small metadata message, so re-pointing it is a single atomic publish and never copies
 *   (or re-uploads) megabytes of component; fetching it follows the link, and the fetched info
 *   names the concrete version. Deleting the version a `latest` link points at re-points it to
 *   the newest remaining version of that name (or removes it), so `latest` never dangles.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { TimeoutError, ClosedConnectionError, DrainingConnectionError } from "@nats-io/nats-core";
import { jetstream, StorageType, type JetStreamClient } from "@nats-io/jetstream";
import { Objm, type ObjectInfo, type ObjectStore } from "@nats-io/obj";
import { assertComponent, digestOf } from "./wasm-binary.js";
import { withReplicas } from "./replicas.js";
import {
  ErrorCode,
  LATEST,
  LatticeError,
  assertJetStreamDomain,
  assertLatticeName,
  formatArtifactRef,
  isLatticeError,
  parseArtifactRef, messageOf,
  type ArtifactRef,
} from "../protocol/index.js";

/** What the store knows about one pushed version. */
export interface ArtifactInfo {
  name: string;
  /** The concrete version (a fetch of `name:latest` reports the version it resolved to). */
  version: string;
  /** `sha256:<hex>` of the component's bytes. */
  digest: string;
  /** Bytes. */
  size: number;
  /** RFC 3339 time of the push (the pusher's clock). */
  pushedAt: string;
}

export interface ArtifactStoreOptions {
  /**
   * JetStream domain of the hub that holds the store. Needed on a leaf node: leaf connections do
   * not carry `$JS.API.>`, but they do carry `$JS.<domain>.API.>`.
   */
  domain?: string;
  /** Deadline of each JetStream request, and the longest a fetch may stall. Default 5 s. */
  timeoutMs?: number;
}

/** Object metadata key holding the digest the pusher computed. */
export const DIGEST_METADATA_KEY = "lattice.digest";
export const DEFAULT_ARTIFACT_TIMEOUT_MS = 5_000;

/**
 * The bucket of a lattice's artifacts. Lattice names (`[A-Za-z0-9_-]{1,64}`) are valid bucket
 * characters (`[-\w]+`), and a fixed prefix and suffix keep the mapping one-to-one, so two
 * lattices never share a bucket. The backing stream is `OBJ_<bucket>`.
 */
export function artifactBucketName(lattice: string): string {
  return `lattice_${assertLatticeName(lattice)}_artifacts`;
}

/** Throws `bad_request` unless `domain` is one subject token (kept in protocol/names.ts: the CLI checks --js-domain as it parses it). */
export { assertJetStreamDomain };

/** `sha256:0123456789ab`: a digest shortened for people. */
export function shortDigest(digest: string): string {
  const colon = digest.indexOf(":");
  return colon < 0 ? digest.slice(0, 12) : digest.slice(0, colon + 13);
}

/** The object holding `ref`; throws `bad_request` for a ref that did not come from `parseArtifactRef`. */
function objectName(ref: ArtifactRef): string {
  return formatArtifactRef(parseArtifactRef(formatArtifactRef(ref)));
}

function message(e: unknown): string {
  return messageOf(e);
}

export class ArtifactStore {
  readonly bucket: string;
  readonly domain: string | undefined;
  readonly timeoutMs: number;
  private readonly js: JetStreamClient;
  private readonly objm: Objm;

  constructor(
    nc: NatsConnection,
    readonly lattice: string,
    opts: ArtifactStoreOptions = {},
  ) {
    this.bucket = artifactBucketName(lattice);
    this.domain = opts.domain === undefined || opts.domain === "" ? undefined : assertJetStreamDomain(opts.domain);
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_ARTIFACT_TIMEOUT_MS;
    this.js = jetstream(nc, { timeout: this.timeoutMs, ...(this.domain !== undefined ? { domain: this.domain } : {}) });
    this.objm = new Objm(this.js);
  }

  /**
   * Store a component as `ref` and point `name:latest` at it. A ref without a version
   * (`name:latest`) is stored under a version derived from its digest (`sha256-<12 hex>`), so
   * the same bytes always land on the same version. Pushing an existing version replaces it.
   */
  async put(ref: ArtifactRef, bytes: Uint8Array): Promise<ArtifactInfo> {
    objectName(ref);
    assertComponent(bytes, `artifact ${formatArtifactRef(ref)}`);
    const digest = await digestOf(bytes);
    const version = ref.version === LATEST ? `sha256-${digest.slice("sha256:".length, "sha256:".length + 12)}` : ref.version;
    const target: ArtifactRef = { name: ref.name, version };
    return this.guard(async () => {
      const os = await withReplicas((replicas) =>
        this.objm.create(this.bucket, {
          storage: StorageType.File,
          replicas,
          description: `components of lattice ${this.lattice}, by name:version`,
        }),
      );
      // The same bytes under the same name:version are not sent again (`lattice start actor
      // ./file.wasm` pushes on every start): only latest is pointed at them; their push time stays the first.
      const stored = await os.info(objectName(target));
      const same = stored && !stored.deleted && stored.metadata?.[DIGEST_METADATA_KEY] === digest && stored.size === bytes.length;
      const info = same
        ? stored
        : await os.putBlob(
            { name: objectName(target), description: `component ${formatArtifactRef(target)}`, metadata: { [DIGEST_METADATA_KEY]: digest } },
            bytes,
            { timeout: this.timeoutMs },
          );
      await this.pointLatest(os, ref.name, info);
      return { name: target.name, version, digest, size: info.size, pushedAt: info.mtime };
    });
  }

  /** Fetch a component and check its bytes against the digest recorded at push time. */
  async get(ref: ArtifactRef): Promise<{ info: ArtifactInfo; bytes: Uint8Array }> {
    const name = objectName(ref);
    return this.guard(async () => {
      const os = await this.open();
      const result = os ? await os.get(name) : null;
      if (!result) throw this.notFound(ref);
      // Attach a handler at once: a failed read rejects this promise as well as the stream.
      const failed = result.error.then(
        (e) => e,
        (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
      );
      const resolved = this.toInfo(result.info);
      const what = resolved ? formatArtifactRef(resolved) : name;
      let bytes: Uint8Array;
      try {
        bytes = await readAll(result.data, this.timeoutMs, `artifact ${what}`, resolved?.size);
      } catch (e) {
        throw this.readError(what, e);
      }
      const err = await failed;
      if (err) throw this.readError(what, err);
      if (!resolved) {
        throw new LatticeError(ErrorCode.Internal, `artifact ${what} in lattice ${this.lattice} has no recorded digest: it was not pushed by lattice, refusing to use it`);
      }
      const actual = await digestOf(bytes);
      if (actual !== resolved.digest || bytes.length !== resolved.size) {
        throw integrityError(what, this.lattice, `recorded ${resolved.digest} (${resolved.size} bytes) but the stored bytes are ${actual} (${bytes.length} bytes)`);
      }
      return { info: resolved, bytes };
    });
  }

  /**
   * What `get` would fetch (a `latest` link followed), without reading its bytes: a host that has
   * compiled that digest before needs no more.
   */
  async describe(ref: ArtifactRef): Promise<ArtifactInfo> {
    const name = objectName(ref);
    return this.guard(async () => {
      const os = await this.open();
      let stored = os ? await os.info(name) : null;
      const target = stored && !stored.deleted ? linkTarget(stored) : undefined;
      if (os && target) stored = await os.info(target);
      const info = stored && !stored.deleted ? this.toInfo(stored) : undefined;
      if (!info) throw this.notFound(ref);
      return info;
    });
  }

  /** Every stored version (not the `latest` links), by name then push time. Empty without a bucket. */
  async list(): Promise<ArtifactInfo[]> {
    return this.guard(async () => {
      const os = await this.open();
      if (!os) return [];
      const infos = (await os.list()).filter((i) => !i.deleted && !isLink(i));
      return infos
        .map((i) => this.toInfo(i))
        .filter((i): i is ArtifactInfo => i !== undefined)
        .sort((a, b) => a.name.localeCompare(b.name) || a.pushedAt.localeCompare(b.pushedAt) || a.version.localeCompare(b.version));
    });
  }

  /**
   * Delete one version; `name:latest` then follows the newest remaining version of that name.
   * Deleting `name:latest` removes only the link: every version stays fetchable by its version.
   */
  async delete(ref: ArtifactRef): Promise<void> {
    const name = objectName(ref);
    return this.guard(async () => {
      const os = await this.open();
      const existing = os ? await os.info(name) : null;
      if (!os || !existing || existing.deleted) throw this.notFound(ref);
      await os.delete(name);
      if (ref.version === LATEST) return;
      const latestName = objectName({ name: ref.name, version: LATEST });
      const latest = await os.info(latestName);
      if (!latest || latest.deleted || linkTarget(latest) !== name) return;
      const newest = (await os.list())
        .filter((i) => !i.deleted && !isLink(i) && this.toInfo(i)?.name === ref.name)
        .sort((a, b) => b.mtime.localeCompare(a.mtime))[0];
      if (newest) await this.pointLatest(os, ref.name, newest);
      else await os.delete(latestName);
    });
  }

  /** Create `name:latest` as a link to `target`, or re-point the existing link in one publish. */
  private async pointLatest(os: ObjectStore, name: string, target: { name: string }): Promise<void> {
    const latestName = objectName({ name, version: LATEST });
    const link = { bucket: this.bucket, name: target.name };
    for (let attempt = 0; ; attempt++) {
      const current = await os.info(latestName);
      if (current && !current.deleted) {
        // Replaces the link's metadata message: readers see the old target or the new one, never nothing.
        await os.update(latestName, { options: { link } });
        return;
      }
      try {
        // link() calls `isLink()` on its argument, which only info() objects have (listed ones
        // are plain JSON), so look the target up again; it is one small request, once per name.
        const source = await os.info(target.name);
        if (!source) return;
        await os.link(latestName, source);
        return;
      } catch (e) {
        // A concurrent push created the link between our look and our link: update it instead.
        if (attempt > 0 || !/already exists/.test(message(e))) throw e;
      }
    }
  }

  /** The bucket, or undefined when nothing was ever pushed to this lattice. */
  private async open(): Promise<ObjectStore | undefined> {
    try {
      return await this.objm.open(this.bucket);
    } catch (e) {
      if (message(e) === "object store not found") return undefined;
      throw e;
    }
  }

  /** The artifact an object holds, from its name and recorded digest; undefined if not ours. */
  private toInfo(i: ObjectInfo): ArtifactInfo | undefined {
    const digest = i.metadata?.[DIGEST_METADATA_KEY];
    if (digest === undefined) return undefined;
    let ref: ArtifactRef;
    try {
      ref = parseArtifactRef(i.name);
    } catch {
      return undefined;
    }
    return { name: ref.name, version: ref.version, digest, size: i.size, pushedAt: i.mtime };
  }

  private notFound(ref: ArtifactRef): LatticeError {
    return new LatticeError(ErrorCode.NotFound, `artifact ${formatArtifactRef(ref)} is not in lattice ${this.lattice}'s artifact store`);
  }

  private readError(what: string, e: unknown): Error {
    if (isLatticeError(e)) return e;
    const m = message(e);
    // The object store checks its own SHA-256 of the chunks against the object's info.
    if (/digests do not match|corrupt/.test(m)) return integrityError(what, this.lattice, m.replace(/\s+/g, " "));
    return e instanceof Error ? e : new Error(m);
  }

  /** Run an operation, turning JetStream and NATS failures into protocol errors. */
  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw this.toLatticeError(e);
    }
  }

  private toLatticeError(e: unknown): LatticeError {
    if (isLatticeError(e)) return e;
    if (e instanceof Error && e.name === "JetStreamNotEnabled") {
      // "No responders" for the JetStream API subject, or JetStream disabled for the account.
      if (this.domain !== undefined) {
        return new LatticeError(
          ErrorCode.Unavailable,
          `JetStream domain ${JSON.stringify(this.domain)} is not reachable from this NATS: no JetStream answers on $JS.${this.domain}.API (check the hub's jetstream domain, and that this server is joined to the hub by a leaf node or a route)`,
        );
      }
      return new LatticeError(
        ErrorCode.Unavailable,
        "JetStream is not enabled on this NATS (start it with -js, or `lattice up` which enables it); on a leaf node, address the hub's JetStream domain instead (--js-domain)",
      );
    }
    if (e instanceof TimeoutError) {
      return new LatticeError(ErrorCode.Timeout, `the artifact store of lattice ${this.lattice} did not answer within ${this.timeoutMs} ms`);
    }
    if (e instanceof ClosedConnectionError || e instanceof DrainingConnectionError) {
      return new LatticeError(ErrorCode.Unavailable, `NATS connection closed while using the artifact store: ${message(e)}`);
    }
    return new LatticeError(ErrorCode.Internal, `artifact store of lattice ${this.lattice}: ${message(e)}`);
  }
}

function isLink(i: ObjectInfo): boolean {
  return i.options?.link != null;
}

function linkTarget(i: ObjectInfo): string | undefined {
  return i.options?.link?.name;
}

/**
 * Integrity failures use `internal` for now: the protocol has no code for "the stored bytes are
 * not what was pushed" yet.
 */
function integrityError(what: string, lattice: string, detail: string): LatticeError {
  return new LatticeError(
    ErrorCode.Internal,
    `integrity check failed for artifact ${what} in lattice ${lattice}: ${detail}; refusing to use it (push it again)`,
  );
}

/** The most readAll allocates before the bytes come. */
const PREALLOCATE_MAX = 64 * 1024 * 1024;

/**
 * The stream's bytes, in one fresh plain Uint8Array (chunks are transport buffers: a Node Buffer
 * on TCP). Copied into a buffer of the `expected` size as they come, so a component is not held
 * twice (its chunks and their concatenation) while it is fetched; grown if more come. Fails with
 * `timeout` if no data arrives for `stallMs`.
 */
async function readAll(rs: ReadableStream<Uint8Array>, stallMs: number, what: string, expected = 0): Promise<Uint8Array> {
  const reader = rs.getReader();
  // The recorded size is the object store's word, not a promise: never more up front than a cap.
  let out = new Uint8Array(Number.isSafeInteger(expected) && expected > 0 ? Math.min(expected, PREALLOCATE_MAX) : 0);
  let total = 0;
  for (;;) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stalled = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new LatticeError(ErrorCode.Timeout, `${what}: no data for ${stallMs} ms while fetching it`)), stallMs);
    });
    let r: ReadableStreamReadResult<Uint8Array>;
    try {
      r = await Promise.race([reader.read(), stalled]);
    } catch (e) {
      await reader.cancel().catch(() => undefined);
      throw e;
    } finally {
      clearTimeout(timer);
    }
    if (r.done) break;
    if (total + r.value.length > out.length) {
      const grown = new Uint8Array(Math.max(2 * out.length, total + r.value.length));
      grown.set(out.subarray(0, total));
      out = grown;
    }
    out.set(r.value, total);
    total += r.value.length;
  }
  return total === out.length ? out : out.slice(0, total);
}
