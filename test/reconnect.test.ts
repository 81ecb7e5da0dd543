/** Losing NATS: hosts reconnect by themselves (same process, same id) and re-announce themselves. */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { LatticeClient } from "../src/ctl/index.js";
import { Host, silentLogger } from "../src/host/index.js";
import { LatticeState, StateCache } from "../src/nats/index.js";
import { connectNode } from "../src/nats/node/index.js";
import type { HostInfo } from "../src/protocol/index.js";
import { CliProcess } from "./kit/cli.js";
import { Cleanup, connection, host, natsServer } from "./kit/lattice.js";
import { until } from "./kit/poll.js";

describe("reconnect", () => {
  const cleanup = new Cleanup();
  after(cleanup.run);

  it("a host whose NATS server restarts comes back into the view with no restart of its own", async () => {
    const nats = await natsServer(cleanup);
    const proc = new CliProcess(["host", "--nats-url", nats.clientUrl, "--name", "survivor", "--heartbeat", "300ms", "-o", "json", "--log-level", "warn"]);
    cleanup.add(() => proc.stop("SIGKILL"));
    const [ready] = await proc.jsonLines<{ host: HostInfo }>(1);
    const id = ready!.host.id;
    const watcher = await host(cleanup, nats.clientUrl, { name: "watcher", heartbeatMs: 300 });
    await watcher.view.waitFor((v) => v.has(id), 5_000);

    await nats.kill("SIGKILL");
    // While NATS is down, nobody hears heartbeats: the survivor expires from the view.
    await watcher.view.waitFor((v) => !v.has(id), 5_000);
    await nats.restart();

    await watcher.view.waitFor((v) => v.has(id), 10_000);
    const nc = await connection(cleanup, nats.clientUrl);
    const listed = await until(async () => {
      const r = await new LatticeClient(nc, "default").hosts();
      return r.replies.some((h) => h.id === id) ? r.replies : undefined;
    }, 10_000, "survivor answering pings again");
    assert.equal(listed.find((h) => h.id === id)?.name, "survivor");
    assert.equal(proc.child.exitCode, null, "the host process never exited");
    assert.match(proc.stderr, /lost NATS connection/);
  });

  it("a host fails over to another server of its list", async () => {
    const s1 = await natsServer(cleanup, { cluster: { name: "c", port: 0 } });
    const s2 = await natsServer(cleanup, { cluster: { name: "c", port: 0, routes: [s1.clusterUrl!] } });
    const watcher = await host(cleanup, s2.clientUrl, { name: "watcher", heartbeatMs: 300 });
    // s1 first in the list, no randomizing: the host lands on s1.
    const mover = await host(cleanup, [s1.clientUrl, s2.clientUrl], { name: "mover", heartbeatMs: 300, connection: { noRandomize: true } });
    await watcher.view.waitFor((v) => v.has(mover.id), 5_000);
    assert.equal(mover.connection.getServer(), s1.clientUrl.replace("nats://", ""));

    await s1.kill("SIGKILL");
    await until(() => mover.connection.getServer() === s2.clientUrl.replace("nats://", ""), 10_000, "mover on s2");
    // It never left the view for long: heartbeats resumed through s2 before expiry, or it re-announced.
    await watcher.view.waitFor((v) => v.has(mover.id), 5_000);
    const seen = watcher.view.get(mover.id);
    await until(() => (watcher.view.get(mover.id)?.lastSeen ?? 0) > (seen?.lastSeen ?? 0), 5_000, "fresh heartbeat via s2");
  });

  it("a state cache whose connection is closed stops trying to reach the bucket", async () => {
    const nats = await natsServer(cleanup, { jetstream: {} });
    const nc = await connectNode({ servers: nats.clientUrl });
    const errors: string[] = [];
    const cache = new StateCache(new LatticeState(nc, "closing"), (m) => errors.push(m), 50).start();
    cleanup.add(() => cache.stop());
    await cache.ready;
    await nc.close();
    // Before, it tried again every 50 ms for ever (each try a ClosedConnectionError), and its
    // timers kept the process alive.
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(errors, []);
  });

  it("hosts stopped as soon as they started leave no JetStream consumer's timer running", async () => {
    const nats = await natsServer(cleanup, { jetstream: {} });
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const before = timers();
    // Stopped while its state watch was still being made, a host closed its connection under it:
    // nats.js had started the consumer's heartbeat monitor (a 30 s interval, for ever).
    for (let i = 0; i < 10; i++) {
      const h = new Host({ servers: nats.clientUrl, connect: connectNode, name: `brief-${i}`, logger: silentLogger });
      await h.start();
      await h.stop();
    }
    await until(() => timers() <= before, 10_000, `the timers to go (${timers()} now, ${before} before)`);
  });
});
