/** One task at a time per key, whatever the one before did; other keys do not wait. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { KeyedQueue } from "../src/protocol/keyed-queue.js";

describe("KeyedQueue", () => {
  it("runs a key's tasks in order, one at a time, past failures, and other keys meanwhile", async () => {
    const q = new KeyedQueue();
    const log: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const first = q.run("a", async () => {
      log.push("a1 start");
      await gate;
      log.push("a1 end");
      throw new Error("a1 failed");
    });
    const second = q.run("a", () => {
      log.push("a2");
      return Promise.resolve(2);
    });
    const other = await q.run("b", () => {
      log.push("b1");
      return Promise.resolve("b");
    });
    assert.equal(other, "b");
    assert.deepEqual(log, ["a1 start", "b1"], "b ran while a1 held its key; a2 waited");
    release();
    await assert.rejects(first, /a1 failed/);
    assert.equal(await second, 2);
    assert.deepEqual(log, ["a1 start", "b1", "a1 end", "a2"]);
  });
});
