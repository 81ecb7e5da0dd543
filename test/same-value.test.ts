/** How a server tells a retry's arguments from another call's under the same idempotency key. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { sameValue } from "../src/protocol/same-value.js";

describe("sameValue", () => {
  it("holds for equal decoded values and fails on any difference", () => {
    const value = () => ["k", 5n, 1.5, null, true, new Uint8Array([1, 2, 3]), { $resource: "bucket", handle: "h", nested: [1, { a: "b" }] }];
    assert.ok(sameValue(value(), value()));
    assert.ok(sameValue(Number.NaN, Number.NaN));
    for (const other of [
      ["k", 6n, 1.5, null, true, new Uint8Array([1, 2, 3]), { $resource: "bucket", handle: "h", nested: [1, { a: "b" }] }],
      ["k", 5n, 1.5, null, true, new Uint8Array([1, 2, 4]), { $resource: "bucket", handle: "h", nested: [1, { a: "b" }] }],
      ["k", 5n, 1.5, null, true, new Uint8Array([1, 2, 3]), { $resource: "bucket", handle: "h", nested: [1, { a: "c" }] }],
      ["k", 5n, 1.5, null, true, new Uint8Array([1, 2, 3]), { $resource: "bucket", handle: "h" }],
      ["k", 5n, 1.5, null, true, new Uint8Array([1, 2, 3])],
    ]) assert.ok(!sameValue(value(), other), JSON.stringify(other, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v)));
    assert.ok(!sameValue(5n, 5), "a bigint is not a number");
    assert.ok(!sameValue([1], { 0: 1 }), "an array is not a map");
    assert.ok(!sameValue(new Uint8Array([1]), [1]), "bytes are not an array");
  });
});
