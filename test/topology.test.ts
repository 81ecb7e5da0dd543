/**
 * One lattice over a hub cluster and leaves: hosts on every server see every other host, state
 * and artifacts are reached from the deepest leaf through the hub's JetStream domain, and an
 * actor on a leaf of a leaf calls a provider on another leaf.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { HostInfo } from "../src/protocol/index.js";
import { CliProcess, cliJson, runCli } from "./kit/cli.js";
import { exampleComponentPath } from "./kit/fixtures.js";
import { Cleanup } from "./kit/lattice.js";
import { until } from "./kit/poll.js";
import { HUB_DOMAIN, topology, type Topology } from "./kit/topology.js";

describe("flattened topology: hub cluster, two leaves, a leaf of a leaf", () => {
  const cleanup = new Cleanup();
  let topo: Topology;
  const ids: Record<string, string> = {};
  const envOf = (place: string): NodeJS.ProcessEnv => ({ LATTICE_NATS_URL: topo.url(place), LATTICE_JS_DOMAIN: HUB_DOMAIN });

  before(async () => {
    topo = await topology(cleanup, { hub: 3, leaves: { east: {}, west: {}, edge: { parent: "east" } } });
    for (const place of ["hub", "east", "west", "edge"]) {
      const p = new CliProcess(["host", "--name", place, "--label", `site=${place}`, "--heartbeat", "500ms", "-o", "json", "--log-level", "warn"], envOf(place));
      cleanup.add(() => p.stop("SIGKILL"));
      const [ready] = await p.jsonLines<{ host: HostInfo }>(1);
      ids[place] = ready!.host.id;
    }
  });
  after(cleanup.run);

  it("lattice get hosts from any leaf lists every host", async () => {
    for (const place of ["edge", "west", "east", "hub"]) {
      const names = await until(async () => {
        const hosts = await cliJson<HostInfo[]>(["get", "hosts"], envOf(place));
        return hosts.length === 4 ? hosts.map((h) => h.name) : undefined;
      }, 10_000, `4 hosts seen from ${place}`);
      assert.deepEqual(names, ["east", "edge", "hub", "west"]);
    }
  });

  it("an actor on the deepest leaf calls a provider on the other leaf", async () => {
    // Pushed at the edge, stored in the hub's object store two leaf hops away.
    const push = await runCli(["push", await exampleComponentPath("counter"), "--name", "counter:1.0"], envOf("edge"));
    assert.equal(push.code, 0, push.stderr);
    const started = await runCli(["start", "actor", "counter:1.0", "--id", "counter", "--host", ids.edge!], envOf("west"));
    assert.equal(started.code, 0, started.stderr);
    const kv = await runCli(["start", "provider", "keyvalue", "--id", "kv", "--host", ids.west!, "--config", "backend=memory"], envOf("hub"));
    assert.equal(kv.code, 0, kv.stderr);
    const link = await runCli(["link", "put", "counter", "kv", "wasi:keyvalue"], envOf("east"));
    assert.equal(link.code, 0, link.stderr);

    const first = await until(async () => {
      const r = await runCli(["call", "counter", "acme:demo/counter.increment", '["visits"]'], envOf("hub"));
      return r.code === 0 ? (JSON.parse(r.stdout) as number) : undefined;
    }, 20_000, "the counter answering through the link");
    assert.equal(first, 1);
    const fromWest = await runCli(["call", "counter", "acme:demo/counter.increment", '["visits"]'], envOf("west"));
    assert.equal(JSON.parse(fromWest.stdout), 2, fromWest.stderr);
  });
});
