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
 * is refused. A write that JetStream cannot take before the call's deadline fails the call:
 * nothing is applied unrecorded. The JetStream backend is keyvalue-jetstream.ts.
 */
import { createHash } from "node:crypto";
import { RecentReplies } from "../../nats/recent-replies.js";
import { ErrorCode, LatticeError, isLatticeError, isResourceRef, messageOf, type ResourceRef } from "../../protocol/index.js";
import { PROVIDER_ENV } from "../../protocol/provider-process.js";
import { runProvider } from "../run.js";
import type { CallContext, ProviderHandler, ProviderRuntime } from "../types.js";
import { JetStreamStore } from "./keyvalue-jetstream.js";
import { kvError, MemoryStore, other, reused, U64_MAX, type Effect, type Store } from "./keyvalue-store.js";

export type { KvError } from "./keyvalue-store.js";

/** One page of `list-keys`. */
const PAGE = 1_000;
const HEALTH_EVERY_MS = 5_000;
const DEFAULT_STORE = "default";

/** What NATS KV accepts: the same rules for every backend, so switching one changes nothing. */
const STORE_NAME = /^[-\w]{1,255}$/;
const KEY = /^[-/=.\w]+$/;

/** How long the provider remembers an effect it applied: as long as JetStream's KV duplicate window. */
const DEDUPE_MS = 120_000;
const EFFECTS_REMEMBERED = 50_000;

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
    throw new LatticeError(ErrorCode.BadRequest, `unknown backend ${JSON.stringify(rt.config.backend)}: jetstream (the default) or memory`);
  }
  const store: Store = memory ? new MemoryStore() : new JetStreamStore(rt.nc, process.env[PROVIDER_ENV.jsDomain] || undefined);

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
      throw other(messageOf(e));
    }
  };

  const applied = new AppliedEffects();
  /** Run an effect once per call id: a retry gets the first run's result; a key reused for other arguments, a refusal. */
  const effect = <T>(ctx: CallContext, what: string, fn: (e: Effect) => Promise<T>): Promise<T> =>
    op(async () => {
      const before = applied.get(ctx.callId, what);
      if (before) return (await before) as T;
      const run = fn({ callId: ctx.callId, what, deadline: ctx.deadline });
      applied.set(ctx.callId, what, run);
      return run;
    });

  const bucketFns: Record<string, ProviderHandler> = {
    "bucket/get": (ctx, h, k) => op(() => store.get(handle(h), key(k), ctx.deadline)),
    "bucket/set": (ctx, h, k, v) => {
      const [name, kk, value] = [handle(h), key(k), bytes(v)];
      return effect(ctx, `set ${name}/${kk} ${createHash("sha256").update(value).digest("base64url")}`, (e) => store.set(name, kk, value, e));
    },
    "bucket/delete": (ctx, h, k) => {
      const [name, kk] = [handle(h), key(k)];
      return effect(ctx, `delete ${name}/${kk}`, (e) => store.delete(name, kk, e));
    },
    "bucket/exists": (ctx, h, k) => op(async () => (await store.get(handle(h), key(k), ctx.deadline)) !== null),
    "bucket/list-keys": (ctx, h, c) =>
      op(async () => {
        const all = await store.keys(handle(h), ctx.deadline);
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
