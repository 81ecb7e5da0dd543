/** The fault proxy itself, against a real nats-server: pass, delay, blackhole, cut, heal. */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { FaultProxy } from "./kit/fault-proxy.js";
import { Cleanup, natsServer } from "./kit/lattice.js";
import { connectNode } from "../src/nats/node/index.js";
import { until } from "./kit/poll.js";

describe("fault proxy", () => {
  const cleanup = new Cleanup();
  after(cleanup.run);

  it("passes, delays, blackholes, cuts and heals NATS traffic", async () => {
    const nats = await natsServer(cleanup);
    const proxy = await FaultProxy.start({ port: nats.port });
    cleanup.add(() => proxy.close());
    const responder = await connectNode({ servers: nats.clientUrl });
    cleanup.add(() => responder.close());
    responder.subscribe("echo", { callback: (_e, m) => void m.respond(m.data) });
    const nc = await connectNode({ servers: proxy.url(), maxReconnectAttempts: -1, reconnectTimeWait: 100, pingInterval: 500, maxPingOut: 2 });
    cleanup.add(() => nc.close());

    assert.equal(new TextDecoder().decode((await nc.request("echo", "a", { timeout: 2_000 })).data), "a");

    proxy.delayMs = 200;
    const t0 = Date.now();
    await nc.request("echo", "b", { timeout: 5_000 });
    assert.ok(Date.now() - t0 >= 200, "delayed");
    proxy.delayMs = 0;

    proxy.blackhole();
    await assert.rejects(nc.request("echo", "c", { timeout: 500 }), /timeout/i);
    proxy.heal();

    proxy.cut();
    assert.equal(proxy.connections, 0);
    await assert.rejects(nc.request("echo", "d", { timeout: 500 }));
    proxy.heal();
    await until(async () => (await nc.request("echo", "e", { timeout: 500 }).then(() => true).catch(() => false)) || undefined, 10_000, "reconnected through the healed proxy");
  });
});
