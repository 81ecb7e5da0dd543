/** A leaf cut from its hub: each side serves itself, calls across fail fast, all heals by itself. */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { partition } from "../bench/chaos-scenarios.js";
import { Cleanup } from "./kit/lattice.js";

describe("partition of a leaf from the hub", () => {
  const cleanup = new Cleanup();
  after(cleanup.run);

  it("local calls keep succeeding on both sides; views agree within 3 heartbeats of healing; no acknowledged KV write lost", async () => {
    const heartbeatMs = 500;
    const r = await partition(cleanup, { rate: 100, durationMs: 8_000, heartbeatMs, cutMs: 4_000 });
    assert.equal(r.load.lost, 0, JSON.stringify(r.load));
    assert.equal(r.load.failed, 0, `local calls failed: ${JSON.stringify(r.load)}`);
    assert.ok(r.crossFailedFastMs >= 0 && r.crossFailedFastMs < 1_000, `a call across the cut failed after ${r.crossFailedFastMs} ms`);
    assert.ok(r.detectMs !== undefined && r.detectMs <= 4 * heartbeatMs + 500, `cut detected after ${r.detectMs} ms`);
    assert.ok(r.convergeMs !== undefined && r.convergeMs <= 3 * heartbeatMs + 2_000, `converged ${r.convergeMs} ms after healing`);
    assert.ok(r.kvWritesKept);
  });
});
