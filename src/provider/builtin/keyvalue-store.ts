/**
 * What the keyvalue provider's backends share: the store they implement, the interface's error
 * variant, counters as decimal text, and the in-memory backend (`--config backend=memory`).
 */
import { ErrorCode, LatticeError } from "../../protocol/index.js";

/** The `error` variant of wasi:keyvalue/store. */
export type KvError = { tag: "no-such-store" } | { tag: "access-denied" } | { tag: "other"; val: string };

export const U64_MAX = (1n << 64n) - 1n;

/** One effect: the call id it is applied once for, what it is (operation, key, argument), and until when it may be tried. */
export interface Effect {
  callId: string;
  what: string;
  /** The call's deadline, epoch ms: a store may retry a write that JetStream could not take until then. */
  deadline: number;
}

/**
 * Stores apply each effect once per `callId`: a store that outlives the provider (JetStream)
 * makes the key part of the write; one that does not (memory) needs only the provider's memory.
 * `deadline` (epoch ms): how long a read may wait for a store that is briefly away.
 */
export interface Store {
  /** Make sure the store exists (create it on first use). */
  open(store: string): Promise<void>;
  get(store: string, key: string, deadline: number): Promise<Uint8Array | null>;
  /** `effect`: the call's key and a fingerprint of what it does, for a store that records them. */
  set(store: string, key: string, value: Uint8Array, effect: Effect): Promise<void>;
  delete(store: string, key: string, effect: Effect): Promise<void>;
  keys(store: string, deadline: number): Promise<string[]>;
  increment(store: string, key: string, delta: bigint, effect: Effect): Promise<bigint>;
  /** Undefined when healthy, else what is wrong. */
  check(): Promise<string | undefined>;
  close(): void;
}

export function kvError(payload: KvError): LatticeError {
  const e = new LatticeError(ErrorCode.GuestError, JSON.stringify(payload));
  e.payload = payload;
  return e;
}

export function other(message: string): LatticeError {
  return kvError({ tag: "other", val: message });
}

/** A call id that applied another effect: an idempotency key names one call. */
export function reused(callId: string, was: string): LatticeError {
  return new LatticeError(ErrorCode.BadRequest, `call id ${callId} was used for another effect (${was.split(" ")[0]} ${was.split(" ")[1] ?? ""}): an idempotency key names one call`);
}

const decoder = new TextDecoder();
export const encoder = new TextEncoder();

/** The number a counter's value holds: decimal text (what `increment` writes). */
export function counterValue(storeKey: string, value: Uint8Array | null): bigint {
  if (value === null || value.length === 0) return 0n;
  const text = decoder.decode(value).trim();
  if (!/^\d{1,20}$/.test(text)) throw other(`the value of ${storeKey} is not a decimal number, so it cannot be incremented`);
  return BigInt(text);
}

export function added(storeKey: string, current: bigint, delta: bigint): bigint {
  const next = current + delta;
  if (next > U64_MAX) throw other(`incrementing ${storeKey} would overflow a u64`);
  return next;
}

export class MemoryStore implements Store {
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
  set(name: string, k: string, value: Uint8Array): Promise<void> {
    this.store(name).set(k, value.slice());
    return Promise.resolve();
  }
  delete(name: string, k: string): Promise<void> {
    this.store(name).delete(k);
    return Promise.resolve();
  }
  keys(name: string): Promise<string[]> {
    return Promise.resolve([...this.store(name).keys()].sort());
  }
  increment(name: string, k: string, delta: bigint): Promise<bigint> {
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
