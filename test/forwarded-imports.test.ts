/** Forwarded imports: what a guest's calls on imported functions and resources become. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ForwardedImports } from "../src/actor/forwarded-imports.js";

describe("forwarded imports", () => {
  it("forwards functions and resource methods, and nothing the JS engine asks of any object", () => {
    const calls: Array<[string, string, unknown[]]> = [];
    const imports = new ForwardedImports((iface, fn, args) => {
      calls.push([iface, fn, args]);
      return fn === "open" ? { $resource: "bucket", handle: "b1" } : "v";
    });
    const store = imports.interface("wasi:keyvalue/store");
    const bucket = (store.open as (n: string) => Record<string, (...a: unknown[]) => unknown>)("default");
    assert.ok(bucket instanceof (store.Bucket as new () => unknown));
    // What runtimes do with values: print, compare, serialise, test for a promise.
    assert.equal(Reflect.get(bucket, "toString"), Reflect.get(Object.prototype, "toString"));
    assert.equal(bucket.valueOf(), bucket);
    assert.equal(JSON.stringify(bucket), "{}");
    assert.equal((bucket as { then?: unknown }).then, undefined);
    assert.equal(Object.prototype.hasOwnProperty.call(bucket, "get"), false);
    assert.equal(bucket.getKeys!("k"), "v");
    assert.deepEqual(calls, [
      ["wasi:keyvalue/store", "open", ["default"]],
      ["wasi:keyvalue/store", "bucket/get-keys", [{ $resource: "bucket", handle: "b1" }, "k"]],
    ]);
  });
});
