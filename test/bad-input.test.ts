/** Garbage on lattice subjects gets structured errors or is ignored; hosts keep running and answering. */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Host } from "../src/host/index.js";
import type { NatsServer } from "../src/nats/node/server-launcher.js";
import { ControlOp, MAX_CONTROL_PAYLOAD, Subjects, makeEvent, EventType, encode } from "../src/protocol/index.js";
import { LatticeClient } from "../src/ctl/index.js";
import { Cleanup, connection, host, natsServer } from "./kit/lattice.js";
import { until } from "./kit/poll.js";

const text = new TextDecoder();
type Reply = { ok: boolean; error?: { code: string; message: string }; data?: unknown };

describe("bad input", () => {
  const cleanup = new Cleanup();
  let nats: NatsServer;
  let h: Host;
  let nc: NatsConnection;
  const subjects = new Subjects("default");

  before(async () => {
    nats = await natsServer(cleanup);
    h = await host(cleanup, nats.clientUrl, { name: "sturdy" });
    nc = await connection(cleanup, nats.clientUrl);
  });
  after(cleanup.run);

  async function ask(subject: string, payload: Uint8Array | string): Promise<Reply> {
    const m = await nc.request(subject, payload, { timeout: 2_000 });
    return JSON.parse(text.decode(m.data)) as Reply;
  }

  it("answers malformed control requests with structured errors", async () => {
    const ping = subjects.controlHost(h.id, ControlOp.Ping);
    const notJson = await ask(ping, "{not json");
    assert.equal(notJson.ok, false);
    assert.equal(notJson.error?.code, "bad_request");

    const wrongShape = await ask(ping, "[1,2,3]");
    assert.equal(wrongShape.error?.code, "bad_request");
    assert.match(wrongShape.error?.message ?? "", /ping request/);

    const badUtf8 = await ask(ping, new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]));
    assert.equal(badUtf8.error?.code, "bad_request");

    const huge = await ask(ping, new Uint8Array(MAX_CONTROL_PAYLOAD + 1).fill(0x20));
    assert.equal(huge.error?.code, "payload_too_large");

    const unknown = await ask(`lattice.default.ctl.v1.host.${h.id}.self_destruct`, "{}");
    assert.equal(unknown.error?.code, "unknown_operation");
    const unknownAll = await ask("lattice.default.ctl.v1.format_disk", "");
    assert.equal(unknownAll.error?.code, "unknown_operation");
    assert.ok(h.controlStats.errors >= 6);
  });

  it("ignores garbage events and non-requests, and keeps its view clean", async () => {
    const before = { ...h.view.stats };
    const ignoredBefore = h.controlStats.ignored;
    const junk = [new Uint8Array([0, 1, 2, 3]), encode({ specversion: "1.0" }), encode("hello"), new Uint8Array(200_000)];
    for (const j of junk) {
      nc.publish(subjects.event(EventType.HostStarted), j);
      nc.publish(subjects.event(EventType.HostHeartbeat), j);
      nc.publish(subjects.event(EventType.HostStopped), j);
      nc.publish(subjects.controlAll(ControlOp.Ping), j); // no reply subject: nobody to answer
      nc.publish("lattice.default.evt.v1.something_new", j);
      nc.publish("lattice.default.whatever.goes", j);
    }
    // A well-formed envelope lying about its data: a host id that is no nkey.
    const forged = makeEvent(EventType.HostHeartbeat, "me", {
      host: { ...h.info(), id: "not-a-host-id" },
      summary: { actors: 0, providers: 0 },
    });
    nc.publish(subjects.event(EventType.HostHeartbeat), encode(forged));
    // And one that tries to remove the real host with a bad id.
    nc.publish(subjects.event(EventType.HostStopped), encode(makeEvent(EventType.HostStopped, "me", { id: `${h.id}X`, reason: "x" })));
    await nc.flush();

    await until(() => h.view.stats.invalidEvents >= before.invalidEvents + 3 * junk.length + 2, 5_000, "invalid events counted");
    await until(() => h.controlStats.ignored >= ignoredBefore + junk.length, 5_000, "non-requests ignored");
    assert.deepEqual(h.view.hosts().map((x) => x.info.id), [h.id], "no phantom host, and the real one still there");

    // Still answering.
    const client = new LatticeClient(nc, "default");
    assert.deepEqual((await client.hosts()).replies.map((x) => x.name), ["sturdy"]);
    assert.ok(h.running);
  });

  it("refuses bad names and ids before they reach a subject", () => {
    assert.throws(() => new Subjects("a.b"), /invalid lattice name/);
    assert.throws(() => new Subjects("*"), /invalid lattice name/);
    assert.throws(() => subjects.controlHost("NOPE", ControlOp.Ping), /invalid host id/);
  });
});
