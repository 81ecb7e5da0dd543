/** The HTTP edge's concurrency limit (provider/builtin/concurrency-limit.ts): AIMD with a slow start. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConcurrencyLimit } from "../src/provider/builtin/concurrency-limit.js";
import { sleep } from "./kit/poll.js";

/** Take `n` places; how many were given. */
function take(l: ConcurrencyLimit, n: number): number {
  let got = 0;
  for (let i = 0; i < n; i++) if (l.tryAcquire()) got++;
  return got;
}

describe("the edge's concurrency limit", () => {
  it("grows past its start while nothing is refused (a slow start: it doubles at the limit)", () => {
    const l = new ConcurrencyLimit(8);
    assert.equal(take(l, 100), 100);
    assert.ok(l.current >= 100, `limit ${l.current}`);
  });

  it("after a refusal, holds just under what was in flight and turns the rest away", () => {
    const l = new ConcurrencyLimit(8);
    assert.equal(take(l, 40), 40);
    l.release("refused");
    assert.equal(l.current, 35, "0.9 of the 39 still in flight, rounded down");
    assert.equal(take(l, 10), 0, "no room, and no doubling so soon after a refusal");
    for (let i = 0; i < 10; i++) l.release("served");
    assert.equal(take(l, 10), 6, "room for what left, up to the limit");
  });

  it("counts the refusals of one burst as one signal", () => {
    const l = new ConcurrencyLimit(64);
    take(l, 64);
    for (let i = 0; i < 10; i++) l.release("refused");
    assert.equal(l.current, 56, "one decrease (0.9 of 63), not ten");
  });

  it("grows by 1/limit per call served only while it is nearly all in use", () => {
    const used = new ConcurrencyLimit(8);
    take(used, 8);
    used.release("refused"); // limit 0.9 × 7: 6
    const held = used.current;
    for (let i = 0; i < 40; i++) {
      used.release("served");
      take(used, 1);
    }
    assert.ok(used.current > held, `at its limit, it grew from ${held} to ${used.current}`);

    const idle = new ConcurrencyLimit(8);
    take(idle, 8);
    idle.release("refused");
    for (let i = 0; i < 7; i++) idle.release("served");
    const before = idle.current;
    for (let i = 0; i < 40; i++) {
      take(idle, 1);
      idle.release("served");
    }
    assert.equal(idle.current, before, "one in flight of several: it did not grow");
  });

  it("doubles again once refusals have stopped for a second", async () => {
    const l = new ConcurrencyLimit(16);
    take(l, 16);
    l.release("refused");
    for (let i = 0; i < 15; i++) l.release("served");
    const held = l.current;
    assert.equal(take(l, held + 5), held);
    await sleep(1_050);
    assert.equal(take(l, 5), 5, "past the limit once calm");
    assert.ok(l.current >= 2 * held);
  });

  it("never goes below its floor", () => {
    const l = new ConcurrencyLimit(4);
    take(l, 4);
    for (let i = 0; i < 4; i++) l.release("refused");
    assert.equal(l.current, 4);
  });
});
