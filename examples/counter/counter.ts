/**
 * Named counters in a key-value bucket. Which store that is (NATS KV, memory, anything else) is
 * decided by the link for `wasi:keyvalue`, not here. The increment is one atomic step of the store,
 * so any number of instances, on any hosts, count exactly.
 */
import { open } from "wasi:keyvalue/store@0.2.0-draft";
import { increment } from "wasi:keyvalue/atomics@0.2.0-draft";

export const counter = {
  increment(key: string): bigint {
    return increment(open("default"), key, 1n);
  },
};
