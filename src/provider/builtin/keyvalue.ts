/**
 * The built-in `wasi:keyvalue` provider (`lattice start provider keyvalue --id kv`): serves
 * `wasi:keyvalue/store` (open, and the methods of `bucket`) and `wasi:keyvalue/atomics`
 * (increment) out of NATS JetStream KV, or out of memory with `--config backend=memory`.
 *
 * Which store a call uses: the link's config value `bucket` if set, else the identifier the actor
 * opened, else `default`. With JetStream that is the KV bucket's name, created on first use in the
 * lattice's JetStream domain; values are stored as they are (bytes), so `nats kv get` reads them.
 * Counters kept by `increment` are decimal text, as a get+set counter would write them.
 *
 * Errors are the interface's own `error` variant, sent as `guest_error` with that variant as the
 * payload (the actor sees the `result`'s error case): `no-such-store` for a name that cannot be a
 * store, `other(message)` for everything else (a bad key, JetStream unreachable…).
 *
 * Effects once: `set`, `delete` and `increment` are applied at most once per call id (the call's
 * idempotency key, kept by every retry and hedge of it). The provider remembers what it applied
 * for DEDUPE_MS; with JetStream, the write itself carries the key as `Nats-Msg-Id`, so a retry
 * that reaches another provider (or this one after a restart) is found a duplicate by the stream
 * within its duplicate window (2 minutes) and changes nothing. A key reused for other arguments
 * is refused. A write that JetStream cannot take fails the call: nothing is applied unrecorded.
 */
import { createHash } from "node:crypto";
import { jetstream, JetStreamApiCodes, JetStreamApiError, type JetStreamClient, type JetStreamManager, type PubAck, type StoredMsg } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { headers, type NatsConnection } from "@nats-io/nats-core";
import { RecentReplies } from "../../nats/recent-replies.js";
import { ErrorCode, LatticeError, isLatticeError, isResourceRef, type ResourceRef } from "../../protocol/index.js";
import { runProvider } from "../run.js";
import type { CallContext, ProviderHandler, ProviderRuntime } from "../types.js";

/** The `error` variant of wasi:keyvalue/store. */
export type KvError = { tag: "no-such-store" } | { tag: "access-denied" } | { tag: "other"; val: string };

/** One page of `list-keys`. */
const PAGE = 1_000;
const HEALTH_EVERY_MS = 5_000;
/** Compare-and-set attempts of one `increment` before it gives up. */
const CAS_ATTEMPTS = 50;
/** Counters whose last value and revision a JetStream store keeps. */
const KNOWN_COUNTERS = 10_000;
const U64_MAX = (1n << 64n) - 1n;
const DEFAULT_STORE = "default";

/** What NATS KV accepts: the same rules for every backend, so switching one changes nothing. */
const STORE_NAME = /^[-\w]{1,255}$/;
const KEY = /^[-/=.\w]+$/;

/** One effect: the call id it is applied once for, and what it is (operation, key, argument). */
interface Effect {
  callId: string;
  what: string;
}

/** The header a JetStream write carries its effect's fingerprint in, to tell a reused key. */
const EFFECT_HEADER = "Lattice-Effect";

/** How long the provider remembers an effect it applied: as long as JetStream's KV duplicate window. */
const DEDUPE_MS = 120_000;
const EFFECTS_REMEMBERED = 50_000;

/**
 * Stores apply each effect once per `callId`: a store that outlives the provider (JetStream)
 * makes the key part of the write; one that does not (memory) needs only the provider's memory.
 */
interface Store {
  /** Make sure the store exists (create it on first use). */
  open(store: string): Promise<void>;
  get(store: string, key: string): Promise<Uint8Array | null>;
  /** `effect`: the call's key and a fingerprint of what it does, for a store that records them. */
  set(store: string, key: string, value: Uint8Array, effect: Effect): Promise<void>;
  delete(store: string, key: string, effect: Effect): Promise<void>;
  keys(store: string): Promise<string[]>;
  increment(store: string, key: string, delta: bigint, effect: Effect): Promise<bigint>;
  /** Undefined when healthy, else what is wrong. */
  check(): Promise<string | undefined>;
  close(): void;
}

function kvError(payload: KvError): LatticeError {
  const e = new LatticeError(ErrorCode.GuestError, JSON.stringify(payload));
  e.payload = payload;
  return e;
}

function other(message: string): LatticeError {
  return kvError({ tag: "other", val: message });
}

function storeName(name: string): string {
  if (!STORE_NAME.test(name)) throw kvError({ tag: "no-such-store" });
  return name;
}

function key(k: unknown): string {
  if (typeof k !== "string") throw new LatticeError(ErrorCode.BadRequest, "the key must be a string");
  if (!KEY.test(k) || k.startsWith(".") || k.endsWith(".")) {
    throw other(`invalid key ${JSON.stringify(k)}: letters, digits and - / = _ . (not first or last)`);
  }
  return k;
}

/** A `bucket` handle: the resource `open` returned (or, typed by hand, the store's name). */
function handle(h: unknown): string {
  if (isResourceRef(h) && h.$resource === "bucket" && typeof h.handle === "string") return storeName(h.handle);
  if (typeof h === "string") return storeName(h);
  throw new LatticeError(ErrorCode.BadRequest, 'the first argument must be a bucket handle ({ "$resource": "bucket", "handle": name }) from open');
}

function bytes(v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (typeof v === "string") return new TextEncoder().encode(v);
  if (Array.isArray(v) && v.every((b) => Number.isInteger(b) && (b as number) >= 0 && (b as number) <= 255)) return Uint8Array.from(v as number[]);
  throw new LatticeError(ErrorCode.BadRequest, "the value must be bytes (list<u8>)");
}

function u64(v: unknown, what: string): bigint {
  const n = typeof v === "bigint" ? v : typeof v === "number" && Number.isInteger(v) ? BigInt(v) : undefined;
  if (n === undefined || n < 0n || n > U64_MAX) throw new LatticeError(ErrorCode.BadRequest, `${what} must be a u64`);
  return n;
}

function cursor(v: unknown): number {
  if (v === null || v === undefined) return 0;
  const n = u64(v, "the cursor");
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** The number a counter's value holds: decimal text (what `increment` writes). */
function counterValue(storeKey: string, value: Uint8Array | null): bigint {
  if (value === null || value.length === 0) return 0n;
  const text = decoder.decode(value).trim();
  if (!/^\d{1,20}$/.test(text)) throw other(`the value of ${storeKey} is not a decimal number, so it cannot be incremented`);
  return BigInt(text);
}

function added(storeKey: string, current: bigint, delta: bigint): bigint {
  const next = current + delta;
  if (next > U64_MAX) throw other(`incrementing ${storeKey} would overflow a u64`);
  return next;
}

class MemoryStore implements Store {
  private readonly stores = new Map<string, Map<string, Uint8Array>>();

  private store(name: string): Map<string, Uint8Array> {
    let s = this.stores.get(name);
    if (!s) {
      s = new Map();
      this.stores.set(name, s);
    }
    return s;
  }

  open(name: string): Promise<void> {
    this.store(name);
    return Promise.resolve();
  }
  get(name: string, k: string): Promise<Uint8Array | null> {
    return Promise.resolve(this.store(name).get(k) ?? null);
  }
  set(name: string, k: string, value: Uint8Array, _effect: Effect): Promise<void> {
    this.store(name).set(k, value.slice());
    return Promise.resolve();
  }
  delete(name: string, k: string, _effect: Effect): Promise<void> {
    this.store(name).delete(k);
    return Promise.resolve();
  }
  keys(name: string): Promise<string[]> {
    return Promise.resolve([...this.store(name).keys()].sort());
  }
  increment(name: string, k: string, delta: bigint, _effect: Effect): Promise<bigint> {
    const s = this.store(name);
    const next = added(`${name}/${k}`, counterValue(`${name}/${k}`, s.get(k) ?? null), delta);
    s.set(k, encoder.encode(next.toString()));
    return Promise.resolve(next);
  }
  check(): Promise<string | undefined> {
    return Promise.resolve(undefined);
  }
  close(): void {}
}

function isWrongLastSequence(e: unknown): boolean {
  return e instanceof JetStreamApiError && (e.code === JetStreamApiCodes.StreamWrongLastSequence || e.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);
}

class JetStreamStore implements Store {
  private readonly js: JetStreamClient;
  private readonly kvm: Kvm;
  private readonly buckets = new Map<string, Promise<KV>>();
  private jsm?: Promise<JetStreamManager>;
  /** Counters by `store/key`: the value and revision this provider last wrote or read. */
  private readonly known = new Map<string, { value: bigint; revision: number }>();
  /** The last increment queued for each counter, for the next to wait on. */
  private readonly queues = new Map<string, Promise<void>>();

  constructor(nc: NatsConnection, domain?: string) {
    this.js = jetstream(nc, { timeout: 5_000, ...(domain ? { domain } : {}) });
    this.kvm = new Kvm(this.js);
  }

  private bucket(name: string): Promise<KV> {
    let b = this.buckets.get(name);
    if (!b) {
      // Binds to the bucket when it exists (whatever its settings), creates it otherwise.
      b = this.kvm.create(name, { history: 1 });
      this.buckets.set(name, b);
      b.catch(() => this.buckets.delete(name));
    }
    return b;
  }

  async open(name: string): Promise<void> {
    await this.bucket(name);
  }

  async get(name: string, k: string): Promise<Uint8Array | null> {
    const e = await (await this.bucket(name)).get(k);
    return e && e.operation === "PUT" ? e.value : null;
  }

  async set(name: string, k: string, value: Uint8Array, effect: Effect): Promise<void> {
    this.known.delete(`${name}/${k}`);
    await this.bucket(name);
    await this.write(name, k, value, effect);
  }

  async delete(name: string, k: string, effect: Effect): Promise<void> {
    this.known.delete(`${name}/${k}`);
    const kv = await this.bucket(name);
    const e = await kv.get(k);
    if (e && e.operation === "PUT") await this.write(name, k, new Uint8Array(), effect, { operation: "DEL" });
  }

  /**
   * A write to a key of a bucket, as KV makes it (a message on `$KV.<bucket>.<key>`), with the
   * call id as the message id (the stream drops a second one within its duplicate window), the
   * effect's fingerprint in a header and, for a compare-and-set, the revision it must follow.
   * A duplicate is checked against the message it repeats, while the stream still has it: a call
   * id that wrote something else is refused. Answers the ack and, for a duplicate, that message.
   */
  private async write(name: string, k: string, data: Uint8Array, effect: Effect, o: { revision?: number; operation?: "DEL" } = {}): Promise<{ ack: PubAck; original?: StoredMsg | null }> {
    const h = headers();
    h.set(EFFECT_HEADER, effect.what);
    if (o.operation) h.set("KV-Operation", o.operation);
    const ack = await this.js.publish(`$KV.${name}.${k}`, data, {
      msgID: effect.callId,
      headers: h,
      ...(o.revision !== undefined ? { expect: { lastSubjectSequence: o.revision } } : {}),
    });
    if (!ack.duplicate) return { ack };
    const original = await (await this.manager()).streams.getMessage(`KV_${name}`, { seq: ack.seq }).catch(() => null);
    const was = original?.header?.get(EFFECT_HEADER);
    if (was && was !== effect.what) throw reused(effect.callId, was);
    return { ack, original };
  }

  private manager(): Promise<JetStreamManager> {
    return (this.jsm ??= this.js.jetstreamManager());
  }

  async keys(name: string): Promise<string[]> {
    const out: string[] = [];
    for await (const k of await (await this.bucket(name)).keys()) out.push(k);
    return out.sort();
  }

  /**
   * Add `delta`, writing back only if nobody wrote in between (the revision compare-and-set);
   * else again, from what is there now. The increments of one key from this provider wait for
   * each other, and each writes on the revision the last one left, with no read first: they never
   * race each other (measured: four instances of http-counter on one key spent most of their
   * JetStream round trips on reads and lost compare-and-sets). Other writers still can; their
   * writes make the next compare-and-set fail, and that one reads.
   */
  increment(name: string, k: string, delta: bigint, effect: Effect): Promise<bigint> {
    const id = `${name}/${k}`;
    const run = (this.queues.get(id) ?? Promise.resolve()).then(() => this.incrementNow(name, k, delta, effect));
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(id, tail);
    void tail.then(() => this.queues.get(id) === tail && this.queues.delete(id));
    return run;
  }

  private async incrementNow(name: string, k: string, delta: bigint, effect: Effect): Promise<bigint> {
    const kv = await this.bucket(name);
    const id = `${name}/${k}`;
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      let last = this.known.get(id);
      if (!last) {
        // The revision to follow is the key's last message, a delete marker too (0: none yet).
        const e = await kv.get(k);
        last = { value: e !== null && e.operation === "PUT" ? counterValue(id, e.value) : 0n, revision: e?.revision ?? 0 };
      }
      const next = added(id, last.value, delta);
      try {
        const { ack, original } = await this.write(name, k, encoder.encode(next.toString()), effect, { revision: last.revision });
        if (ack.duplicate) {
          // Applied before, by this provider before a restart or by another one: not again. Its
          // result is the value it wrote, while the stream still holds it; else the value now.
          this.known.delete(id);
          if (original) return counterValue(id, original.data);
          const now = await kv.get(k);
          return now !== null && now.operation === "PUT" ? counterValue(id, now.value) : 0n;
        }
        this.remember(id, { value: next, revision: ack.seq });
        return next;
      } catch (err) {
        this.known.delete(id);
        if (!isWrongLastSequence(err)) throw err;
      }
    }
    throw other(`${id} changed under every one of ${CAS_ATTEMPTS} attempts to increment it`);
  }

  private remember(id: string, v: { value: bigint; revision: number }): void {
    this.known.delete(id);
    this.known.set(id, v);
    if (this.known.size > KNOWN_COUNTERS) this.known.delete(this.known.keys().next().value!);
  }

  async check(): Promise<string | undefined> {
    try {
      await (await this.js.jetstreamManager()).getAccountInfo();
      return undefined;
    } catch (e) {
      return `JetStream is unreachable: ${e instanceof Error ? e.message : String(e)}`;
    }
  }

  close(): void {
    this.buckets.clear();
  }
}

/** A call id that applied another effect: an idempotency key names one call. */
function reused(callId: string, was: string): LatticeError {
  return new LatticeError(ErrorCode.BadRequest, `call id ${callId} was used for another effect (${was.split(" ")[0]} ${was.split(" ")[1] ?? ""}): an idempotency key names one call`);
}

/**
 * The effects this provider applied, by call id, for DEDUPE_MS: what they were (a fingerprint of
 * the operation and its arguments) and their result. Failed effects are forgotten: a retry may
 * apply them.
 */
class AppliedEffects {
  private readonly byCall = new RecentReplies<{ what: string; result: Promise<unknown>; until: number }>(EFFECTS_REMEMBERED);

  /** The result of `callId` if it applied `what` already; refuses a call id that applied something else. */
  get(callId: string, what: string): Promise<unknown> | undefined {
    const e = this.byCall.get(callId);
    if (!e || e.until < Date.now()) return undefined;
    if (e.what !== what) throw reused(callId, e.what);
    return e.result;
  }

  set(callId: string, what: string, result: Promise<unknown>): void {
    const entry = { what, result, until: Date.now() + DEDUPE_MS };
    this.byCall.add(callId, entry);
    result.catch(() => this.byCall.drop(callId, entry));
  }
}

/** The keyvalue provider's definition, over the store its start config chose. */
function keyvalueProvider(rt: ProviderRuntime) {
  const memory = rt.config.backend === "memory";
  if (rt.config.backend !== undefined && !memory && rt.config.backend !== "jetstream") {
    throw new Error(`unknown backend ${JSON.stringify(rt.config.backend)}: jetstream (the default) or memory`);
  }
  const store: Store = memory ? new MemoryStore() : new JetStreamStore(rt.nc, process.env.LATTICE_JS_DOMAIN || undefined);

  let healthy: boolean | undefined;
  const health = (ok: boolean, message: string) => {
    if (ok === healthy) return;
    healthy = ok;
    rt.setHealth(ok, message);
    if (ok) rt.log.info("store reachable", { backend: memory ? "memory" : "jetstream" });
    else rt.log.warn("store unreachable", { error: message });
  };
  let probing: Promise<void> | undefined;
  const probe = () =>
    (probing ??= store
      .check()
      .then((problem) => health(problem === undefined, problem ?? (memory ? "in memory" : "JetStream reachable")))
      .finally(() => (probing = undefined)));
  void probe();
  const timer = setInterval(() => void probe(), HEALTH_EVERY_MS);
  timer.unref();

  /** Run a store operation; a failure that is not already the interface's error becomes `other`. */
  const op = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      if (isLatticeError(e)) throw e;
      void probe();
      throw other(e instanceof Error ? e.message : String(e));
    }
  };

  const applied = new AppliedEffects();
  /** Run an effect once per call id: a retry gets the first run's result; a key reused for other arguments, a refusal. */
  const effect = <T>(ctx: CallContext, what: string, fn: (e: Effect) => Promise<T>): Promise<T> =>
    op(async () => {
      const before = applied.get(ctx.callId, what);
      if (before) return (await before) as T;
      const run = fn({ callId: ctx.callId, what });
      applied.set(ctx.callId, what, run);
      return run;
    });

  const bucketFns: Record<string, ProviderHandler> = {
    "bucket/get": (_ctx, h, k) => op(() => store.get(handle(h), key(k))),
    "bucket/set": (ctx, h, k, v) => {
      const [name, kk, value] = [handle(h), key(k), bytes(v)];
      return effect(ctx, `set ${name}/${kk} ${createHash("sha256").update(value).digest("base64url")}`, (e) => store.set(name, kk, value, e));
    },
    "bucket/delete": (ctx, h, k) => {
      const [name, kk] = [handle(h), key(k)];
      return effect(ctx, `delete ${name}/${kk}`, (e) => store.delete(name, kk, e));
    },
    "bucket/exists": (_ctx, h, k) => op(async () => (await store.get(handle(h), key(k))) !== null),
    "bucket/list-keys": (_ctx, h, c) =>
      op(async () => {
        const all = await store.keys(handle(h));
        const from = cursor(c);
        const next = from + PAGE < all.length ? BigInt(from + PAGE) : null;
        return { keys: all.slice(from, from + PAGE), cursor: next };
      }),
  };

  return {
    exports: {
      "wasi:keyvalue/store": {
        open: (ctx: CallContext, identifier: unknown): Promise<ResourceRef> =>
          op(async () => {
            if (typeof identifier !== "string") throw new LatticeError(ErrorCode.BadRequest, "open takes the store identifier, a string");
            const name = storeName(ctx.config.bucket || identifier || DEFAULT_STORE);
            await store.open(name);
            return { $resource: "bucket", handle: name };
          }),
        ...bucketFns,
      },
      "wasi:keyvalue/atomics": {
        increment: (ctx: CallContext, h: unknown, k: unknown, delta: unknown) => {
          const [name, kk, d] = [handle(h), key(k), u64(delta, "delta")];
          return effect(ctx, `increment ${name}/${kk} ${d}`, (e) => store.increment(name, kk, d, e));
        },
      },
    },
    stop: () => {
      clearInterval(timer);
      store.close();
    },
  };
}

await runProvider(keyvalueProvider);
