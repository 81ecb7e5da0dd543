// How componentize-js presents `wasi:keyvalue/store@0.2.0-draft` to JavaScript: `result` errors are
// thrown, `option` is `undefined` when empty, `u64` is a bigint, the `bucket` resource is a class.
declare module "wasi:keyvalue/store@0.2.0-draft" {
  export type Error = { tag: "no-such-store" } | { tag: "access-denied" } | { tag: "other"; val: string };
  export interface KeyResponse {
    keys: string[];
    cursor?: bigint;
  }
  export class Bucket {
    get(key: string): Uint8Array | undefined;
    set(key: string, value: Uint8Array): void;
    delete(key: string): void;
    exists(key: string): boolean;
    listKeys(cursor: bigint | undefined): KeyResponse;
  }
  export function open(identifier: string): Bucket;
}

declare module "wasi:keyvalue/atomics@0.2.0-draft" {
  import type { Bucket } from "wasi:keyvalue/store@0.2.0-draft";
  /** Adds `delta` to the number at `key` (0 if unset) in one step of the store; returns the new value. */
  export function increment(bucket: Bucket, key: string, delta: bigint): bigint;
}
