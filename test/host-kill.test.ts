/** A host dies under load: no call is lost, hardly any fails, and every view drops it in time. */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { hostKill } from "../bench/chaos-scenarios.js";
import { Cleanup } from "./kit/lattice.js";

describe("host death under load", () => {
  const cleanup = new Cleanup();
  after(cleanup.run);

  it("SIGKILL of one of three hosts: zero calls lost, failures <= 1%, gone from views within 4 heartbeats", async () => {
    const heartbeatMs = 500;
    const r = await hostKill(cleanup, { rate: 100, durationMs: 6_000, heartbeatMs });
    assert.equal(r.load.lost, 0, JSON.stringify(r.load));
    assert.equal(r.load.late, 0, JSON.stringify(r.load));
    assert.ok(r.load.sent >= 500, `sent ${r.load.sent}`);
    assert.ok(r.load.failed <= r.load.sent * 0.01, JSON.stringify(r.load));
    assert.ok(r.detectMs !== undefined && r.detectMs <= 4 * heartbeatMs, `detected after ${r.detectMs} ms`);
  });
});
