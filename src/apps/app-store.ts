/**
 * Apps in lattice state: a JetStream KV bucket per lattice (`lattice_<L>_apps`) holding each
 * app's record, every stored version of its manifest, its status and the reconciler lease (key
 * layout in protocol/apps.ts). Writers that race (two deploys, the CLI and the reconciler) use
 * compare-and-set on the record's revision.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import type { KV, KvEntry } from "@nats-io/kv";
import type { TSchema, Static } from "@sinclair/typebox";
import { KvBucket, decodeEntry as decodeKvEntry } from "../nats/kv-bucket.js";
import {
  APP_KEY_PREFIX,
  AppRecord,
  AppStatus,
  ErrorCode,
  LatticeError,
  MAX_APP_VERSIONS,
  Manifest,
  appKey,
  assertAppName,
  assertAppVersion,
  assertLatticeName,
  manifestKey,
  statusKey,
  validate,
} from "../protocol/index.js";

export function appsBucketName(lattice: string): string {
  return `lattice_${assertLatticeName(lattice)}_apps`;
}

export interface AppStoreOptions {
  /** JetStream domain of the hub holding lattice state (needed on leaf nodes). */
  domain?: string;
  timeoutMs?: number;
}

/** What a deploy did: `unchanged` when that version was already the deployed one. */
export interface DeployResult {
  record: AppRecord;
  previous: string | null;
  unchanged: boolean;
}

const CAS_ATTEMPTS = 10;

export class AppStore {
  private readonly kv: KvBucket;

  constructor(nc: NatsConnection, lattice: string, opts: AppStoreOptions = {}) {
    this.kv = new KvBucket(nc, appsBucketName(lattice), { ...opts, config: { history: 3 }, what: "app store", compareAndSet: true });
  }

  get bucket(): string {
    return this.kv.name;
  }

  /** The bucket, created if missing. A JetStream that is off or unreachable is `unavailable`. */
  open(): Promise<KV> {
    return this.kv.open();
  }

  /**
   * Store a manifest version and make it the deployed one. A version is immutable: deploying
   * it again with other content is refused (bump the version).
   */
  async deploy(manifest: Manifest): Promise<DeployResult> {
    const kv = await this.open();
    const { name, version } = manifest;
    const stored = await this.manifest(name, version);
    if (stored && canonical(stored) !== canonical(manifest)) {
      throw new LatticeError(ErrorCode.BadRequest, `version ${version} of app ${name} is already stored with other content; give the new manifest another version`);
    }
    const clashes = await this.clashes(manifest);
    if (clashes.length > 0) throw new LatticeError(ErrorCode.BadRequest, `app ${name} clashes with deployed apps: ${clashes.join("; ")}`);
    if (!stored) await kv.put(manifestKey(name, version), json(manifest));
    let previous: string | null = null;
    let unchanged = false;
    const record = await this.updateRecord(name, (r) => {
      previous = r?.deployed ?? null;
      unchanged = previous === version;
      const versions = [...(r?.versions ?? []).filter((v) => v !== version), version];
      return { name, deployed: version, versions: versions.slice(-MAX_APP_VERSIONS), updatedAt: new Date().toISOString() };
    });
    // Versions pushed out of the history take their manifests with them.
    for (const dropped of (await this.droppedVersions(name, record.versions))) await kv.purge(manifestKey(name, dropped));
    return { record, previous, unchanged };
  }

  /** Make a stored version the deployed one again. */
  async rollback(name: string, version: string): Promise<DeployResult> {
    assertAppName(name);
    assertAppVersion(version);
    if (!(await this.manifest(name, version))) {
      const r = await this.record(name);
      const known = r ? `stored versions: ${r.versions.join(", ")}` : `there is no app ${name}`;
      throw new LatticeError(ErrorCode.NotFound, `version ${version} of app ${name} is not stored (${known})`);
    }
    let previous: string | null = null;
    const record = await this.updateRecord(name, (r) => {
      if (!r) throw new LatticeError(ErrorCode.NotFound, `there is no app ${name}`);
      previous = r.deployed;
      return { ...r, deployed: version, updatedAt: new Date().toISOString() };
    });
    return { record, previous, unchanged: previous === version };
  }

  /** Ask for an app to be removed: the reconciler takes down what it created, then the records. */
  async undeploy(name: string): Promise<AppRecord> {
    assertAppName(name);
    return this.updateRecord(name, (r) => {
      if (!r) throw new LatticeError(ErrorCode.NotFound, `there is no app ${name}`);
      return { ...r, deployed: null, updatedAt: new Date().toISOString() };
    });
  }

  async record(name: string): Promise<AppRecord | undefined> {
    const e = await (await this.open()).get(appKey(assertAppName(name)));
    return e && e.operation === "PUT" ? decodeEntry(e, AppRecord, "app record") : undefined;
  }

  async records(): Promise<AppRecord[]> {
    const kv = await this.open();
    const out: AppRecord[] = [];
    for await (const key of await kv.keys(`${APP_KEY_PREFIX}>`)) {
      const e = await kv.get(key);
      if (e && e.operation === "PUT") out.push(decodeEntry(e, AppRecord, "app record"));
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  async manifest(name: string, version: string): Promise<Manifest | undefined> {
    const e = await (await this.open()).get(manifestKey(assertAppName(name), assertAppVersion(version)));
    return e && e.operation === "PUT" ? decodeEntry(e, Manifest, "manifest") : undefined;
  }

  async status(name: string): Promise<AppStatus | undefined> {
    const e = await (await this.open()).get(statusKey(assertAppName(name)));
    return e && e.operation === "PUT" ? decodeEntry(e, AppStatus, "app status") : undefined;
  }

  async putStatus(status: AppStatus): Promise<void> {
    await (await this.open()).put(statusKey(status.name), json(validate(AppStatus, status, "app status")));
  }

  /** Forget an app entirely (after its resources are gone). Only if it is still undeployed. */
  async forget(name: string): Promise<void> {
    const kv = await this.open();
    const e = await kv.get(appKey(name));
    if (e && e.operation === "PUT") {
      const r = decodeEntry(e, AppRecord, "app record");
      if (r.deployed !== null) return; // deployed again meanwhile
      await kv.delete(appKey(name), { previousSeq: e.revision });
      for (const v of r.versions) await kv.purge(manifestKey(name, v));
    }
    await kv.delete(statusKey(name));
  }

  /** Component ids and links that another deployed app already declares. */
  private async clashes(m: Manifest): Promise<string[]> {
    const out: string[] = [];
    const linkKey = (l: { source: string; interface: string; name?: string }) => `${l.source} ${l.interface} ${l.name ?? "default"}`;
    for (const r of await this.records()) {
      if (r.name === m.name || !r.deployed) continue;
      const other = await this.manifest(r.name, r.deployed);
      if (!other) continue;
      const ids = new Set(other.components.map((c) => c.id));
      const links = new Set((other.links ?? []).map(linkKey));
      for (const c of m.components) if (ids.has(c.id)) out.push(`component ${c.id} is part of app ${r.name}`);
      for (const l of m.links ?? []) if (links.has(linkKey(l))) out.push(`the link of ${l.source} on ${l.interface} is part of app ${r.name}`);
    }
    return out;
  }

  private async updateRecord(name: string, change: (r: AppRecord | undefined) => AppRecord): Promise<AppRecord> {
    const kv = await this.open();
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const e = await kv.get(appKey(name));
      const current = e && e.operation === "PUT" ? decodeEntry(e, AppRecord, "app record") : undefined;
      const next = validate(AppRecord, change(current), "app record");
      try {
        if (e) await kv.update(appKey(name), json(next), e.revision);
        else await kv.create(appKey(name), json(next));
        return next;
      } catch (err) {
        // Lost a race with another writer: read again and retry.
        if (attempt === CAS_ATTEMPTS - 1) throw new LatticeError(ErrorCode.Unavailable, `app ${name} is being changed by someone else; try again (${String(err)})`);
      }
    }
    throw new LatticeError(ErrorCode.Internal, "unreachable");
  }

  private async droppedVersions(name: string, keep: string[]): Promise<string[]> {
    const kv = await this.open();
    const out: string[] = [];
    const prefix = manifestKey(name, "");
    for await (const key of await kv.keys(`${prefix}>`)) {
      const v = key.slice(prefix.length);
      if (!keep.includes(v)) out.push(v);
    }
    return out;
  }
}

const encoder = new TextEncoder();

function json(v: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(v));
}

/** JSON with sorted keys: two manifests with the same content compare equal. */
export function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === "object" && !Array.isArray(x) ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : x,
  );
}

function decodeEntry<T extends TSchema>(e: KvEntry, schema: T, what: string): Static<T> {
  return decodeKvEntry(e, schema, what, "the app store");
}
