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
