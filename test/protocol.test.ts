/** The protocol module alone: subjects, names, codec limits and schemas. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  CONTROL_OPS,
  ERROR_CODES,
  ControlOp,
  EVENT_SCHEMAS,
  EventType,
  HostInfo,
  LatticeError,
  MAX_CONTROL_PAYLOAD,
  PingRequest,
  MAX_CALL_ID,
  Subjects,
  assertLabel,
  callIdProblem,
  childCallId,
  decode,
  decodeCall,
  encodeCall,
  encode,
  makeEvent,
  shortEventType,
  validate,
} from "../src/protocol/index.js";
import { hostIdentity } from "../src/host/index.js";

const id = hostIdentity().id;
const info: HostInfo = {
  id,
  name: "h",
  lattice: "default",
  labels: { region: "eu" },
  version: "0.1.0",
  startedAt: new Date().toISOString(),
  heartbeatMs: 1000,
  uptimeSeconds: 1.5,
};

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof LatticeError) return e.code;
    throw e;
  }
  return "no error";
}

describe("subjects", () => {
  it("puts the lattice name and protocol major in every subject", () => {
    const s = new Subjects("prod-eu");
    assert.equal(s.controlAll(ControlOp.Ping), "lattice.prod-eu.ctl.v1.ping");
    assert.equal(s.controlHost(id, ControlOp.Inventory), `lattice.prod-eu.ctl.v1.host.${id}.inventory`);
    assert.equal(s.event(EventType.HostStarted), "lattice.prod-eu.evt.v1.host_started");
    assert.equal(s.eventsWildcard(), "lattice.prod-eu.evt.v1.>");
    assert.equal(s.controlOpOf(s.controlHost(id, ControlOp.Ping)), "ping");
  });

  it("rejects names that would escape their subject token", () => {
    for (const bad of ["", "a.b", "a*", ">", "a b", "x".repeat(65)]) assert.throws(() => new Subjects(bad), /invalid lattice name/);
  });

  it("keeps distinct lattices' wildcards disjoint", () => {
    const a = new Subjects("a");
    const ab = new Subjects("a-b");
    assert.ok(!ab.event("host_started").startsWith(a.eventsWildcard().slice(0, -1)));
  });
});

describe("invocation subjects and call ids", () => {
  const s = new Subjects("default");

  it("parses group and direct subjects alike, and refuses a bad member address", () => {
    assert.deepEqual(s.parseInvocation(s.invocation("kv", "wasi:keyvalue/atomics@0.2.0-draft", "increment")), { target: "kv", iface: "wasi:keyvalue/atomics@0.2.0-draft", fn: "increment" });
    assert.deepEqual(s.parseInvocation(s.invocationDirect("kv", "abcdefgh2345", "wasi:keyvalue/store", "bucket/get")), { target: "kv", iface: "wasi:keyvalue/store", fn: "bucket/get", member: "abcdefgh2345" });
    assert.ok(!s.invocationDirect("kv", "abcdefgh2345", "", "run").startsWith(s.invocationWildcard("kv").slice(0, -1)), "a direct call is not in the group's wildcard");
    assert.throws(() => s.invocationDirect("kv", "UPPER", "", "run"), /invalid member address/);
  });

  it("refuses a call without a usable call id", () => {
    const call = (callId: string) => decodeCall(encodeCall({ args: [], deadline: 1, callId, source: "t" }));
    for (const bad of ["", "has space", "tab\t", "é", "x".repeat(MAX_CALL_ID + 1)]) {
      assert.throws(() => call(bad), (e) => e instanceof LatticeError && e.code === "bad_request" && e.message === callIdProblem(bad));
    }
    assert.equal(call("x".repeat(MAX_CALL_ID)).callId.length, MAX_CALL_ID);
  });

  it("derives a call's children's ids from its own, bounded in length", () => {
    assert.equal(childCallId("req-1", 0), "req-1.0");
    assert.equal(childCallId("req-1.0", 3), "req-1.0.3");
    let id = "0f8fad5b-d9cb-469f-a165-70867728950e";
    for (let depth = 0; depth < 100; depth++) {
      id = childCallId(id, depth % 3);
      assert.equal(callIdProblem(id), undefined, id);
    }
    assert.match(id, /^~[0-9a-z]+(\.[0-2])+$/, "hashed once it grew too long, then grown again");
    assert.notEqual(childCallId(`${"a".repeat(120)}`, 1), childCallId(`${"b".repeat(120)}`, 1), "hashed parents stay apart");
  });
});

describe("codec", () => {
  it("reads an empty payload as an empty object", () => {
    assert.deepEqual(decode(PingRequest, new Uint8Array(0), "ping request"), {});
  });

  it("refuses oversized, non-JSON and mis-shaped payloads with codes", () => {
    assert.equal(code(() => decode(HostInfo, new Uint8Array(MAX_CONTROL_PAYLOAD + 1), "x")), "payload_too_large");
    assert.equal(code(() => decode(HostInfo, new TextEncoder().encode("{"), "x")), "bad_request");
    assert.equal(code(() => decode(HostInfo, encode({ ...info, id: "nope" }), "x")), "bad_request");
    assert.equal(code(() => decode(HostInfo, encode({ ...info, startedAt: "yesterday" }), "x")), "bad_request");
    assert.equal(code(() => decode(HostInfo, encode({ ...info, labels: { "bad key!": "v" } }), "x")), "bad_request");
  });

  it("names the problem in the error", () => {
    assert.throws(() => validate(HostInfo, { ...info, heartbeatMs: -1 }, "host info"), /invalid host info: \/heartbeatMs/);
  });

  it("accepts fields it does not know (a newer minor version may add them)", () => {
    assert.deepEqual(decode(HostInfo, encode({ ...info, futureField: 1 }), "x"), { ...info, futureField: 1 });
  });
});

describe("events", () => {
  it("builds CloudEvents 1.0 envelopes that match their schemas", () => {
    const e = makeEvent(EventType.HostStarted, id, info);
    assert.equal(e.specversion, "1.0");
    assert.equal(e.type, "lattice.host_started");
    assert.equal(e.source, id);
    assert.equal(e.datacontenttype, "application/json");
    assert.equal(shortEventType(e.type), "host_started");
    validate(EVENT_SCHEMAS[EventType.HostStarted], e, "event");
    assert.equal(code(() => validate(EVENT_SCHEMAS[EventType.HostStopped], e, "event")), "bad_request", "type must match");
  });
});

describe("labels", () => {
  it("accepts Kubernetes-like keys and refuses others", () => {
    assertLabel("region", "eu");
    assertLabel("topology.kubernetes.io/zone", "a");
    assert.throws(() => assertLabel("-x", "v"), /invalid label key/);
    assert.throws(() => assertLabel("k", "v".repeat(257)), /longer than/);
  });
});

describe("docs/protocol.md", () => {
  it("documents every operation, event type and error code", () => {
    const doc = readFileSync(new URL("../../docs/protocol.md", import.meta.url), "utf8");
    for (const op of CONTROL_OPS) assert.match(doc, new RegExp(`### \`${op}\``), `operation ${op}`);
    for (const t of Object.values(EventType)) assert.match(doc, new RegExp(`\\| \`${t}\` \\|`), `event ${t}`);
    for (const c of ERROR_CODES) assert.match(doc, new RegExp(`\\| \`${c}\` \\|`), `error code ${c}`);
  });
});
