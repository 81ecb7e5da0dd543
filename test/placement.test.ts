/** Spreading instances over hosts: pure, so every case is cheap to check. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { matches, spread, type Candidate } from "../src/ctl/index.js";

const c = (hostId: string, load: number, current = 0, labels: Record<string, string> = {}): Candidate => ({ hostId, labels, load, current });

describe("placement", () => {
  it("spreads evenly over equal hosts", () => {
    assert.deepEqual(Object.fromEntries(spread([c("a", 0), c("b", 0)], 4)), { a: 2, b: 2 });
    assert.deepEqual(Object.fromEntries(spread([c("a", 0), c("b", 0), c("c", 0)], 4)), { a: 2, b: 1, c: 1 });
  });

  it("fills the least loaded hosts first", () => {
    assert.deepEqual(Object.fromEntries(spread([c("a", 5), c("b", 0)], 3)), { a: 0, b: 3 });
    assert.deepEqual(Object.fromEntries(spread([c("a", 2), c("b", 0)], 4)), { a: 1, b: 3 });
  });

  it("keeps what runs when growing, and takes from the fullest when shrinking", () => {
    assert.deepEqual(Object.fromEntries(spread([c("a", 2, 2), c("b", 0, 0)], 4)), { a: 2, b: 2 });
    assert.deepEqual(Object.fromEntries(spread([c("a", 3, 3), c("b", 1, 1)], 2)), { a: 1, b: 1 });
    assert.deepEqual(Object.fromEntries(spread([c("a", 3, 3), c("b", 1, 1)], 0)), { a: 0, b: 0 });
  });

  it("matches label constraints exactly", () => {
    assert.ok(matches({ region: "eu", cloud: "aws" }, { region: "eu" }));
    assert.ok(matches({}, {}));
    assert.ok(!matches({ region: "us" }, { region: "eu" }));
    assert.ok(!matches({}, { region: "eu" }));
  });
});
