/**
 * Property-based tests (fast-check) of every decoder that reads the wire: random and mutated
 * bytes must give a value or a LatticeError with a protocol code, never another exception and
 * never a hang. Then the same garbage, live, at a host's control subjects: it keeps answering.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  ActorScaleRequest,
  ActorStopRequest,
  EVENT_SCHEMAS,
  InventoryReply,
  LatticeError,
  PingReply,
  ProviderStartRequest,
  SessionKeyReply,
  SessionKeyRequest,
  Subjects,
  decode,
  decodeCall,
  decodeReply,
  encode,
  encodeCall,
  encodeReply,
  fromBase64Url,
  isErrorCode,
  signedLength,
  signedMessage,
} from "../src/protocol/index.js";
import { LatticeClient } from "../src/ctl/index.js";
import { Cleanup, connection, host, natsServer } from "./kit/lattice.js";

const RUNS = 10_000;

/** Only a LatticeError with a known code may come out of a decoder. */
function onlyLatticeErrors(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch (e) {
    return e instanceof LatticeError && isErrorCode(e.code);
  }
}

/** Random bytes, and valid messages cut, extended or with bytes overwritten. */
function bytesLike(valid: Uint8Array[]): fc.Arbitrary<Uint8Array> {
  const mutated = fc
    .tuple(fc.constantFrom(...valid), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.nat(), fc.uint8Array({ maxLength: 16 }))
    .map(([v, flips, cut, tail]) => {
      const out = Uint8Array.from(v);
      for (const [at, b] of flips) if (out.length > 0) out[at % out.length] = b;
      return new Uint8Array([...out.subarray(0, Math.max(0, out.length - (cut % 4))), ...tail]);
    });
  return fc.oneof(fc.uint8Array({ maxLength: 512 }), mutated);
}

const id = "NBX7ZZJ4QH7JTUAXQ2ZZTBQYFYBBPZT6W7K3MQN6XH4M7W6E5XNQCLQ5";

/** What a verifier would check of any body: nothing, or the subject and the bytes before a 66-byte signature (34-byte MAC). */
function signedPartIsSane(b: Uint8Array): boolean {
  const m = signedMessage("s", b);
  const n = signedLength(b, 32);
  return (m === undefined || m.length === b.length - 66 + 2) && (n === undefined || n === b.length - 34);
}

describe("fuzzing the wire decoders", () => {
  it("control requests: actor_scale, actor_stop, provider_start", () => {
    const valid = [
      encode({ actorId: "echo", ref: "echo:1.0", instances: 2, config: { a: "b" } }),
      encode({ actorId: "echo" }),
      encode({ providerId: "kv", ref: "keyvalue", config: { backend: "memory" } }),
    ];
    fc.assert(
      fc.property(bytesLike(valid), (b) =>
        [ActorScaleRequest, ActorStopRequest, ProviderStartRequest].every((schema) => onlyLatticeErrors(() => decode(schema, b, "request"))),
      ),
      { numRuns: RUNS },
    );
  });

  it("control replies and events", () => {
    const info = { id, name: "h", lattice: "default", labels: {}, version: "0.1.0", startedAt: new Date().toISOString(), heartbeatMs: 1000, uptimeSeconds: 1 };
    const valid = [encode({ ok: true, data: info }), encode({ ok: false, error: { code: "bad_request", message: "x" } }), encode({ specversion: "1.0", id: "1", source: id, type: "lattice.host_started", time: info.startedAt, datacontenttype: "application/json", data: info })];
    fc.assert(
      fc.property(bytesLike(valid), (b) =>
        [PingReply, InventoryReply, ...Object.values(EVENT_SCHEMAS)].every((schema) => onlyLatticeErrors(() => decode(schema, b, "message"))),
      ),
      { numRuns: RUNS },
    );
  });

  it("also arbitrary JSON values (not just bytes) against the schemas", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => [ActorScaleRequest, PingReply, ...Object.values(EVENT_SCHEMAS)].every((schema) => onlyLatticeErrors(() => decode(schema, encode(v), "value")))),
      { numRuns: RUNS },
    );
  });

  it("invocation calls and replies (MessagePack)", () => {
    const valid = [
      encodeCall({ args: ["hi", 2n ** 63n, new Uint8Array([1, 2, 3]), { tag: "ok", val: null }], deadline: Date.now(), callId: "c", source: "s", link: "l" }),
      // A signed call: signer, issued-at and a 64-byte signature after the six fields.
      encodeCall({ args: [1], deadline: Date.now(), callId: "c", source: "s", signature: { signer: id, issuedAt: Date.now(), signature: new Uint8Array(64).fill(9) } }),
      // A session-mode call: signer, issued-at, session id and a 32-byte MAC.
      encodeCall({ args: [1], deadline: Date.now(), callId: "c", source: "s", signature: { signer: id, issuedAt: Date.now(), session: "lwVZwujW8DrC_RM3Wc8Wrg", signature: new Uint8Array(32).fill(9) } }),
      encodeReply({ ok: true, value: { keys: ["a"], cursor: 5n }, by: id }),
      encodeReply({ ok: false, error: { code: "guest_error", message: "m", payload: { tag: "other", val: "x" } } }),
    ];
    fc.assert(
      fc.property(
        bytesLike(valid),
        (b) => onlyLatticeErrors(() => decodeCall(b)) && onlyLatticeErrors(() => decodeReply(b)) && signedPartIsSane(b),
      ),
      { numRuns: RUNS },
    );
  });

  it("session key requests and answers (JSON), and base64url", () => {
    const curve = "XCWYIBRZH3T7QLZOHFSAEZGXXKCQC3WZVL5YHCF75OVUZALQU6GV6EXJ";
    const sig = "A".repeat(86);
    const valid = [
      encode({ verifier: id, curve, nonce: "n".repeat(32), signature: sig }),
      encode({ ok: true, data: { session: "lwVZwujW8DrC_RM3Wc8Wrg", expiresAt: Date.now(), sealer: curve, sealed: "eGt2MQ" + "A".repeat(96), signature: sig } }),
      encode({ ok: false, error: { code: "forbidden", message: "no" } }),
    ];
    fc.assert(
      fc.property(bytesLike(valid), (b) => [SessionKeyRequest, SessionKeyReply].every((schema) => onlyLatticeErrors(() => decode(schema, b, "message")))),
      { numRuns: RUNS },
    );
    fc.assert(
      fc.property(fc.jsonValue(), (v) => [SessionKeyRequest, SessionKeyReply].every((schema) => onlyLatticeErrors(() => decode(schema, encode(v), "value")))),
      { numRuns: RUNS },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (t) => {
        const b = fromBase64Url(t);
        return b === undefined || b instanceof Uint8Array;
      }),
      { numRuns: RUNS },
    );
  });

  it("invocation subjects", () => {
    const subjects = new Subjects("default");
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        const r = subjects.parseInvocation(s);
        return r === undefined || (typeof r.target === "string" && typeof r.fn === "string");
      }),
      { numRuns: RUNS },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), fc.string({ maxLength: 80 }), fc.string({ maxLength: 40 }), (t, i, f) =>
        onlyLatticeErrors(() => subjects.invocation(t, i, f)),
      ),
      { numRuns: RUNS },
    );
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 80 }), fc.constant(id)), fc.string({ maxLength: 60 }), (signer, session) => onlyLatticeErrors(() => subjects.sessionKey(signer, session))),
      { numRuns: RUNS },
    );
  });
});

describe("fuzzing a live host's control subjects", () => {
  const cleanup = new Cleanup();
  after(cleanup.run);

  it("1,000 garbage requests get structured errors or are ignored, and the host keeps answering", async () => {
    const nats = await natsServer(cleanup);
    const h = await host(cleanup, nats.clientUrl, { name: "target" });
    const nc = await connection(cleanup, nats.clientUrl);
    const ops = ["ping", "inventory", "actor_scale", "actor_stop", "provider_start", "provider_stop", "nope"];
    const samples = fc.sample(fc.tuple(fc.constantFrom(...ops), fc.boolean(), fc.uint8Array({ maxLength: 300 })), 1_000);
    let answered = 0;
    for (const [op, direct, body] of samples) {
      const subject = direct ? `lattice.default.ctl.v1.host.${h.id}.${op}` : `lattice.default.ctl.v1.${op}`;
      const m = await nc.request(subject, body, { timeout: 5_000 });
      const reply = JSON.parse(new TextDecoder().decode(m.data)) as { ok: boolean; error?: { code: string } };
      assert.ok(reply.ok || isErrorCode(reply.error?.code), JSON.stringify(reply));
      answered++;
    }
    assert.equal(answered, samples.length);
    assert.deepEqual((await new LatticeClient(nc, "default").hosts()).replies.map((x) => x.id), [h.id]);
  });
});
