/** Two lattices on one NATS never see each other's hosts, events or control requests. */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { LatticeClient } from "../src/ctl/index.js";
import type { NatsServer } from "../src/nats/node/server-launcher.js";
import type { HostInfo } from "../src/protocol/index.js";
import { cliJson, runCli } from "./kit/cli.js";
import { Cleanup, connection, host, natsServer } from "./kit/lattice.js";
import { sleep } from "./kit/poll.js";

describe("lattice isolation", () => {
  const cleanup = new Cleanup();
  let nats: NatsServer;
  before(async () => {
    nats = await natsServer(cleanup);
  });
  after(cleanup.run);

  it("hosts, events and control requests stay inside their lattice", async () => {
    const nc = await connection(cleanup, nats.clientUrl);
    const alphaClient = new LatticeClient(nc, "alpha");
    const betaClient = new LatticeClient(nc, "beta");
    const seen: Record<string, string[]> = { alpha: [], beta: [] };
    const abort = new AbortController();
    cleanup.add(() => abort.abort());
    for (const [name, client] of [["alpha", alphaClient], ["beta", betaClient]] as const) {
      void (async () => {
        for await (const r of client.events(abort.signal)) if ("event" in r) seen[name]?.push(r.event.source);
      })();
    }
    await nc.flush();

    // Same host name in both lattices, on purpose.
    const a = await host(cleanup, nats.clientUrl, { lattice: "alpha", name: "same-name", heartbeatMs: 200 });
    const b = await host(cleanup, nats.clientUrl, { lattice: "beta", name: "same-name", heartbeatMs: 200 });
    await sleep(700); // a few heartbeats each

    assert.deepEqual((await alphaClient.hosts()).replies.map((h) => h.id), [a.id]);
    assert.deepEqual((await betaClient.hosts()).replies.map((h) => h.id), [b.id]);
    assert.deepEqual(a.view.hosts().map((h) => h.info.id), [a.id]);
    assert.deepEqual(b.view.hosts().map((h) => h.info.id), [b.id]);
    assert.ok(seen.alpha!.length >= 3 && seen.alpha!.every((s) => s === a.id), `alpha events from ${JSON.stringify(seen.alpha)}`);
    assert.ok(seen.beta!.length >= 3 && seen.beta!.every((s) => s === b.id), `beta events from ${JSON.stringify(seen.beta)}`);

    // A host of beta is not reachable through alpha's subjects, even by its exact id.
    await assert.rejects(alphaClient.inventory(b.id), (e: Error & { code?: string }) => e.code === "not_found");
    assert.equal((await betaClient.inventory(b.id)).host.id, b.id);

    // The CLI's --lattice and LATTICE_NAME select the lattice.
    const viaFlag = await cliJson<HostInfo[]>(["get", "hosts", "--nats-url", nats.clientUrl, "--lattice", "alpha"]);
    assert.deepEqual(viaFlag.map((h) => h.id), [a.id]);
    const viaEnv = await cliJson<HostInfo[]>(["get", "hosts", "--nats-url", nats.clientUrl], { LATTICE_NAME: "beta" });
    assert.deepEqual(viaEnv.map((h) => h.id), [b.id]);
    const empty = await runCli(["get", "hosts", "--nats-url", nats.clientUrl, "--lattice", "gamma", "-o", "json", "--timeout", "300ms"]);
    assert.equal(empty.code, 0);
    assert.deepEqual(JSON.parse(empty.stdout), []);
  });
});
