/** A NATS server of the hub cluster dies under load: hosts and callers fail over, no call is lost. */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { serverKill } from "../bench/chaos-scenarios.js";
import { Cleanup } from "./kit/lattice.js";

describe("NATS server death under load", () => {
  const cleanup = new Cleanup();
  after(cleanup.run);

  it("SIGKILL of one of three hub servers: hosts reconnect, zero calls lost", async () => {
    const r = await serverKill(cleanup, { rate: 100, durationMs: 6_000, heartbeatMs: 500 });
    assert.equal(r.load.lost, 0, JSON.stringify(r.load));
    assert.equal(r.load.late, 0, JSON.stringify(r.load));
    assert.ok(r.load.failed <= r.load.sent * 0.01, JSON.stringify(r.load));
    assert.ok(r.convergeMs !== undefined, "every host heard from again");
  });
});
