/**
 * Named counters in a key-value bucket. Which store that is (NATS KV, Redis, memory) is decided by
 * the link for `wasi:keyvalue/store`, not here.
 */
import { open } from "wasi:keyvalue/store@0.2.0-draft";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const counter = {
  increment(key: string): bigint {
    const bucket = open("default");
    const stored = bucket.get(key);
    const next = (stored === undefined ? 0n : BigInt(decoder.decode(stored))) + 1n;
    bucket.set(key, encoder.encode(next.toString()));
    return next;
  },
};
