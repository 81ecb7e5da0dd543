/**
 * Calls stay close: with instances on two leaves, a caller on a leaf is answered by the instance
 * on its own leaf, and crosses to the other only when its own has none.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Host } from "../src/host/index.js";
import { invoke } from "../src/nats/invocations.js";
import { Subjects } from "../src/protocol/index.js";
import { runCli } from "./kit/cli.js";
import { watEcho } from "./kit/fixtures.js";
import { Cleanup, connection, host } from "./kit/lattice.js";
import { HUB_DOMAIN, topology, type Topology } from "./kit/topology.js";

describe("locality", () => {
  const cleanup = new Cleanup();
  let topo: Topology;
  let east: Host;
  let west: Host;
  const subjects = new Subjects("default");

  async function responders(place: string, n = 30): Promise<Map<string, number>> {
    const nc = await connection(cleanup, topo.url(place));
    const seen = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const r = await invoke(nc, subjects, { target: "echo", iface: "acme:demo/echo", fn: "echo", args: ["x"], source: "test", deadline: Date.now() + 5_000 });
      seen.set(r.responder ?? "?", (seen.get(r.responder ?? "?") ?? 0) + 1);
    }
    return seen;
  }

  before(async () => {
    topo = await topology(cleanup, { hub: 1, leaves: { east: {}, west: {} } });
    east = await host(cleanup, topo.url("east"), { name: "east", jsDomain: HUB_DOMAIN });
    west = await host(cleanup, topo.url("west"), { name: "west", jsDomain: HUB_DOMAIN });
    const file = join(tmpdir(), `lattice-locality-${process.pid}.wasm`);
    writeFileSync(file, await watEcho());
    const env = { LATTICE_NATS_URL: topo.url("hub"), LATTICE_JS_DOMAIN: HUB_DOMAIN };
    for (const h of [east, west]) {
      const r = await runCli(["start", "actor", file, "--id", "echo", "--host", h.id], env);
      assert.equal(r.code, 0, r.stderr);
    }
  });
  after(cleanup.run);

  it("a caller on a leaf is answered on its own leaf", async () => {
    assert.deepEqual([...(await responders("east")).keys()], [east.id]);
    assert.deepEqual([...(await responders("west")).keys()], [west.id]);
  });

  it("crosses to the other leaf only when its own has no instance", async () => {
    await east.actors.stop("echo");
    assert.deepEqual([...(await responders("east")).keys()], [west.id]);
  });
});
