/**
 * Signed invocations: callers sign each call (subject and the whole envelope, issued-at
 * included) with an nkey; when the lattice says so, instances refuse calls that are unsigned,
 * forged, stale, replayed or signed by a key that is neither a live host nor trusted, and count
 * them. A retried call is signed anew and still gets its remembered reply.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { createPrivateKey, sign as nodeSign } from "node:crypto";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Msg, NatsConnection } from "@nats-io/nats-core";
import { createCurve, createServer, createUser } from "@nats-io/nkeys";
import { LatticeClient } from "../src/ctl/index.js";
import type { Host } from "../src/host/index.js";
import { CallSigner, InvocationGuard, InvocationServer, invoke, LatticeState, SessionKeyCache, SigningKey, type SigningSessions } from "../src/nats/index.js";
import { callMac } from "../src/nats/signing/hmac.js";
import type { NatsServer } from "../src/nats/node/index.js";
import {
  ErrorCode,
  LatticeError,
  ReplayMemory,
  base32Decode,
  isErrorCode,
  Subjects,
  decodeCall,
  decodeReply,
  encodeCall,
  encode,
  placeSignature,
  sessionAnswerMessage,
  signedLength,
  signedMessage,
  toBase64Url,
  MAC_BYTES,
  SIGNATURE_BYTES,
  SessionKeyRequest,
  decode,
  type CallEnvelope,
  type InvocationSecurity,
} from "../src/protocol/index.js";
import { cliJson, runCli } from "./kit/cli.js";
import { watNeedsImport, watThing } from "./kit/fixtures.js";
import { Cleanup, connection, host, natsServer } from "./kit/lattice.js";
import { sleep, until } from "./kit/poll.js";

const seedOf = (kp: { getSeed(): Uint8Array }) => new TextDecoder().decode(kp.getSeed());
const subjects = new Subjects("default");
const THING = "acme:nowhere/thing";

function setting(over: Partial<InvocationSecurity> = {}): InvocationSecurity {
  return { verify: true, windowMs: 30_000, trustedKeys: [], updatedAt: new Date().toISOString(), ...over };
}

function aCall(over: Partial<CallEnvelope> = {}): CallEnvelope {
  return { args: ["hello"], deadline: Date.now() + 5_000, callId: crypto.randomUUID(), source: "test", ...over };
}

/** A signature made with node:crypto from the seed: another implementation, and any issued-at. */
function signElsewhere(seed: string, subject: string, call: CallEnvelope, signer: string, issuedAt: number): Uint8Array {
  const raw = Buffer.from(base32Decode(seed)).subarray(2, 34);
  const key = createPrivateKey({ key: Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), raw]), format: "der", type: "pkcs8" });
  const body = encodeCall({ ...call, signature: { signer, issuedAt, signature: new Uint8Array(SIGNATURE_BYTES) } });
  placeSignature(body, nodeSign(null, signedMessage(subject, body)!, key));
  return body;
}

/** Flip one byte of the first occurrence of `needle` in a copy of `body`. */
function tamper(body: Uint8Array, needle: string): Uint8Array {
  const out = Uint8Array.from(body);
  const at = Buffer.from(out).indexOf(needle);
  assert.ok(at >= 0, `${needle} in the body`);
  out[at] = out[at]! ^ 1;
  return out;
}

async function refusal(p: unknown): Promise<LatticeError> {
  const e = await p;
  assert.ok(e instanceof LatticeError, "refused");
  return e;
}


/** Every call to `target`, through its queue group or straight to one of its members. */
function tapCalls(cleanup: Cleanup, nc: NatsConnection, subjects: Subjects, target: string, onCall: (m: Msg) => void): void {
  for (const subject of [subjects.invocationWildcard(target), subjects.invocationDirectAll(target)]) {
    const tap = nc.subscribe(subject, { callback: (_e, m) => onCall(m) });
    cleanup.add(() => tap.unsubscribe());
  }
}

describe("invocation signatures (no NATS)", () => {
  const a = new CallSigner(seedOf(createServer()));
  const seedOfSigner = seedOf(createUser());
  const signerOfSeed = new CallSigner(seedOfSigner);
  const subject = subjects.invocation("echo", "acme:demo/echo", "echo");

  it("a signed call carries signer, issued-at and signature after the old fields; an unsigned one is unchanged", async () => {
    const call = aCall({ link: "l", traceparent: "00-abc" });
    const { body, issuedAt } = await a.signCall(subject, call);
    const back = decodeCall(body);
    assert.deepEqual({ ...back, signature: undefined }, { ...call, signature: undefined });
    assert.equal(back.signature?.signer, a.publicKey);
    assert.equal(back.signature?.issuedAt, issuedAt);
    assert.equal(back.signature?.signature.length, 64);
    const plain = encodeCall(call);
    assert.equal(decodeCall(plain).signature, undefined);
    assert.equal(signedMessage(subject, plain), undefined);
    // node:crypto, signing the same bytes directly, makes the same signature (Ed25519 is deterministic).
    const mine = await signerOfSeed.signCall(subject, call);
    const again = signElsewhere(seedOfSigner, subject, call, signerOfSeed.publicKey, mine.issuedAt);
    assert.deepEqual(Buffer.from(again), Buffer.from(mine.body));
  });

  it("accepts a trusted signature once; refuses unsigned, replayed, tampered, stale and untrusted calls, counting each", async () => {
    let current: InvocationSecurity | undefined = setting({ trustedKeys: [a.publicKey] });
    let clock = Date.now();
    const guard = new InvocationGuard({ settings: () => current, trusted: () => false, now: () => clock });
    const call = aCall();
    const { body } = await a.signCall(subject, call);
    assert.equal(await guard.check(subject, decodeCall(body), body), undefined);

    const replay = await refusal(guard.check(subject, decodeCall(body), body));
    assert.equal(replay.code, ErrorCode.Unauthenticated);
    assert.match(replay.message, /replays one already received/);

    const unsigned = encodeCall(aCall());
    assert.match((await refusal(guard.check(subject, decodeCall(unsigned), unsigned))).message, /not signed/);

    const fresh = (await a.signCall(subject, aCall())).body;
    const args = tamper(fresh, "hello");
    assert.match((await refusal(guard.check(subject, decodeCall(args), args))).message, /does not verify/);
    const other = subjects.invocation("echo", "acme:demo/echo", "add");
    assert.match((await refusal(guard.check(other, decodeCall(fresh), fresh))).message, /does not verify/);
    // The untampered call still goes through: a forgery does not burn the genuine signature.
    assert.equal(await guard.check(subject, decodeCall(fresh), fresh), undefined);

    // Someone else's signature with our key's name on it.
    const theirs = await signerOfSeed.signCall(subject, aCall());
    const claimed = decodeCall(theirs.body);
    const relabelled = encodeCall({ ...claimed, signature: { ...claimed.signature!, signer: a.publicKey } });
    assert.match((await refusal(guard.check(subject, decodeCall(relabelled), relabelled))).message, /does not verify/);
    const untrusted = await refusal(guard.check(subject, claimed, theirs.body));
    assert.equal(untrusted.code, ErrorCode.Forbidden);

    const old = (await a.signCall(subject, aCall())).body;
    clock = Date.now() + 31_000;
    assert.match((await refusal(guard.check(subject, decodeCall(old), old))).message, /issued 31 s ago, outside the 30 s window/);
    clock = Date.now();

    assert.deepEqual(guard.stats, { verified: 2, rejected: 7, unsigned: 1, untrusted: 1, forged: 3, stale: 1, replayed: 1, noSessionKey: 0 });

    current = setting({ verify: false });
    assert.equal(guard.check(subject, decodeCall(unsigned), unsigned), undefined, "no verification: answered at once, no promise");
    current = undefined;
    assert.equal(guard.check(subject, decodeCall(unsigned), unsigned), undefined);
  });

  it("a retry is signed anew, so it is not taken for a replay", async () => {
    const guard = new InvocationGuard({ settings: () => setting({ trustedKeys: [a.publicKey] }), trusted: () => false });
    const call = aCall();
    const first = await a.signCall(subject, call);
    const retry = await a.signCall(subject, call, first.issuedAt);
    assert.ok(retry.issuedAt > first.issuedAt);
    assert.equal(await guard.check(subject, decodeCall(first.body), first.body), undefined);
    assert.equal(await guard.check(subject, decodeCall(retry.body), retry.body), undefined);
  });

  it("the replay memory is bounded and fails closed when full", () => {
    const m = new ReplayMemory(2);
    const sig = (n: number) => new Uint8Array(64).fill(n);
    assert.equal(m.claim(sig(1), 100, 100, 1_000), "new");
    assert.equal(m.claim(sig(2), 101, 101, 1_000), "new");
    assert.equal(m.claim(sig(2), 101, 102, 1_000), "replayed");
    assert.equal(m.claim(sig(3), 102, 102, 1_000), "new");
    assert.equal(m.size, 2);
    // sig(1) was forgotten while still in its window: anything issued that early is refused.
    assert.equal(m.claim(sig(1), 100, 103, 1_000), "forgotten");
    assert.equal(m.claim(sig(4), 103, 103, 1_000), "new");
    // Out of the window, entries go by themselves.
    assert.equal(m.claim(sig(5), 5_000, 5_000, 1_000), "new");
    assert.equal(m.size, 1);
    m.release(sig(5));
    assert.equal(m.size, 0);
  });

  it("refuses seeds that cannot sign, without echoing them", () => {
    assert.throws(() => new CallSigner("SXnotaseed"), (e: Error) => !e.message.includes("SXnotaseed"));
  });
});

describe("signed invocations in a lattice", () => {
  const cleanup = new Cleanup();
  let nats: NatsServer;
  let h: Host;
  let nc: NatsConnection;
  let client: LatticeClient;
  let env: NodeJS.ProcessEnv;
  const hostSeed = seedOf(createServer());
  const user = createUser();
  const userSigner = new CallSigner(seedOf(user));
  const hostSigner = new CallSigner(hostSeed);
  const FIXTURE = fileURLToPath(new URL("./fixtures/echo-provider.js", import.meta.url));

  async function wasm(name: string, bytes: Promise<Uint8Array>): Promise<string> {
    const path = join(tmpdir(), `lattice-signing-${process.pid}-${name}.wasm`);
    writeFileSync(path, await bytes);
    return path;
  }

  async function security(args: string[], verify: boolean): Promise<InvocationSecurity> {
    const s = await cliJson<InvocationSecurity>(["security", "set", ...args], env);
    await until(() => h.state.invocationSecurity()?.updatedAt === s.updatedAt || undefined, 10_000, "the setting in the host's copy");
    assert.equal(s.verify, verify);
    return s;
  }

  const ping = (signer?: CallSigner) => client.call("seven", THING, "ping", [], { timeoutMs: 5_000, signer });
  const code = (p: Promise<unknown>) => p.then(() => "ok", (e: unknown) => (e instanceof LatticeError ? e.code : String(e)));

  before(async () => {
    nats = await natsServer(cleanup, { jetstream: {} });
    env = { LATTICE_NATS_URL: nats.clientUrl };
    h = await host(cleanup, nats.clientUrl, { name: "h", seed: hostSeed });
    nc = await connection(cleanup, nats.clientUrl);
    client = new LatticeClient(nc, "default");
    for (const [id, bytes] of [["relay", watNeedsImport()], ["seven", watThing(7)]] as const) {
      const r = await runCli(["start", "actor", await wasm(id, bytes), "--id", id], env);
      assert.equal(r.code, 0, r.stderr);
    }
    assert.equal((await runCli(["link", "put", "relay", "seven", THING], env)).code, 0);
    await until(() => h.state.findLink("relay", THING) || undefined, 10_000, "the link");
    const p = await runCli(["start", "provider", FIXTURE, "--id", "fx"], env);
    assert.equal(p.code, 0, p.stderr);
  });
  after(cleanup.run);

  it("lattice security set/get: off until set", async () => {
    const got = await cliJson<InvocationSecurity>(["security", "get"], env);
    assert.equal(got.verify, false);
    assert.equal(await ping(), 7, "without verification an unsigned call works");
    const text = await runCli(["security", "get"], env);
    assert.match(text.stdout, /verify invocations: off/);
    const bad = await runCli(["security", "set", "--verify-invocations", "maybe"], env);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /expected on or off/);
    const badKey = await runCli(["security", "set", "--trust", "NOPE"], env);
    assert.match(badKey.stderr, /not an nkey public key/);
  });

  it("with verification on: unsigned calls are refused and counted; a trusted key, a live host and its provider are accepted", async () => {
    const s = await security(["--verify-invocations", "on", "--window", "20s"], true);
    assert.equal(s.windowMs, 20_000);
    const before = { ...h.invocationStats };
    assert.equal(await code(ping()), ErrorCode.Unauthenticated);
    assert.equal(h.invocationStats.unsigned, before.unsigned + 1);
    assert.equal(await code(ping(userSigner)), ErrorCode.Forbidden, "a key nobody trusts");
    assert.equal(h.invocationStats.untrusted, before.untrusted + 1);

    // The host's own key (a live host): accepted. The relay's import is signed by the host too.
    assert.equal(await ping(hostSigner), 7);
    assert.equal(await client.call("relay", "acme:demo/relay", "call", [], { signer: hostSigner }), 7);
    assert.equal(h.invocationStats.verified, before.verified + 3);

    await security(["--trust", user.getPublicKey()], true);
    assert.equal(await ping(userSigner), 7, "a trusted key");
    const viaCli = await runCli(["call", "seven", `${THING}.ping`], { ...env, LATTICE_SIGNING_SEED: seedOf(user) });
    assert.equal(viaCli.code, 0, viaCli.stderr);
    assert.equal(viaCli.stdout.trim(), "7");
    assert.doesNotMatch(viaCli.stdout + viaCli.stderr, /SU/);
    const unsignedCli = await runCli(["call", "seven", `${THING}.ping`], env);
    assert.equal(unsignedCli.code, 1);
    assert.match(unsignedCli.stderr, /unauthenticated: the lattice requires signed invocations/);

    // A provider verifies too, and signs its own calls with its host's key (never seeing it in its environment).
    const fxUnsigned = () => code(client.call("fx", "acme:demo/echo", "echo", ["x"]));
    await until(async () => (await fxUnsigned()) === ErrorCode.Unauthenticated || undefined, 10_000, "the provider refusing unsigned calls");
    assert.equal(await client.call("fx", "acme:demo/echo", "echo", ["x"], { signer: userSigner }), "echo: x");
    assert.equal(await client.call("fx", "acme:demo/echo", "relay", ["seven", THING, "ping", []], { signer: userSigner }), 7);
    const names = (await client.call("fx", "acme:demo/echo", "env", [], { signer: userSigner })) as string[];
    assert.ok(!names.includes("LATTICE_SIGNING_SEED"));
  });

  it("a replayed call is refused and counted, and does not run again; a retry of the same call id gets its reply", async () => {
    await security(["--verify-invocations", "on"], true);
    let runs = 0;
    const guard = new InvocationGuard({ settings: () => h.state.invocationSecurity(), trusted: (k) => h.view.has(k) });
    const server = new InvocationServer(nc, subjects, "counted", () => Promise.resolve(++runs), { instances: 1, responder: "test", defaultTimeoutMs: 5_000, guard });
    cleanup.add(() => server.stop());
    const captured: Uint8Array[] = [];
    tapCalls(cleanup, nc, subjects, "counted", (m) => void captured.push(Uint8Array.from(m.data)));
    await nc.flush();

    const callId = crypto.randomUUID();
    const first = await invoke(nc, subjects, { target: "counted", iface: "acme:demo/n", fn: "next", args: [], source: "test", deadline: Date.now() + 5_000, callId, signer: hostSigner });
    assert.equal(first.value, 1);
    await until(() => captured.length === 1 || undefined, 2_000, "the captured call");

    // The same bytes again, as a new request: refused, not run.
    const subject = subjects.invocation("counted", "acme:demo/n", "next");
    const replayed = decodeReply((await nc.request(subject, captured[0], { timeout: 5_000 })).data);
    assert.equal(replayed.ok, false);
    assert.ok(!replayed.ok && replayed.error.code === ErrorCode.Unauthenticated && /replays/.test(replayed.error.message), JSON.stringify(replayed));
    assert.equal(guard.stats.replayed, 1);
    assert.equal(runs, 1);

    // A retry (same call id, signed again): the remembered reply, still one run.
    const retry = await invoke(nc, subjects, { target: "counted", iface: "acme:demo/n", fn: "next", args: [], source: "test", deadline: Date.now() + 5_000, callId, signer: hostSigner });
    assert.equal(retry.value, 1);
    assert.equal(runs, 1);
    assert.equal(guard.stats.verified, 2);

    // invoke's own retries (no answer within attemptTimeoutMs): each attempt signed anew, all
    // answered with the one run's reply.
    let slowRuns = 0;
    const slow = new InvocationServer(nc, subjects, "slow", async () => {
      await sleep(350);
      return ++slowRuns;
    }, { instances: 1, responder: "test", defaultTimeoutMs: 5_000, guard });
    cleanup.add(() => slow.stop());
    await nc.flush();
    const verifiedBefore = guard.stats.verified;
    const retried = await invoke(nc, subjects, { target: "slow", iface: "acme:demo/n", fn: "next", args: [], source: "test", deadline: Date.now() + 5_000, attemptTimeoutMs: 100, signer: hostSigner });
    assert.equal(retried.value, 1);
    assert.equal(slowRuns, 1);
    assert.ok(guard.stats.verified - verifiedBefore >= 3, `every attempt verified (${guard.stats.verified - verifiedBefore})`);
    assert.equal(guard.stats.replayed, 1, "no retry taken for a replay");

    // Tampered bytes of a new call: forged. A stale signature from another implementation: stale.
    const tampered = tamper((await hostSigner.signCall(subject, aCall())).body, "hello");
    const forged = decodeReply((await nc.request(subject, tampered, { timeout: 5_000 })).data);
    assert.ok(!forged.ok && forged.error.code === ErrorCode.Unauthenticated, JSON.stringify(forged));
    const old = signElsewhere(hostSeed, subject, aCall(), h.id, Date.now() - 60_000);
    const stale = decodeReply((await nc.request(subject, old, { timeout: 5_000 })).data);
    assert.ok(!stale.ok && /outside the 20 s window/.test(stale.error.message), JSON.stringify(stale));
    const fresh = signElsewhere(hostSeed, subject, aCall(), h.id, Date.now());
    assert.equal(decodeReply((await nc.request(subject, fresh, { timeout: 5_000 })).data).ok, true, "node:crypto's signature verifies");
    assert.equal(runs, 2);
  });

  it("a call an actor makes over a link, captured and replayed, is refused by the host", async () => {
    const captured: Array<{ subject: string; data: Uint8Array }> = [];
    tapCalls(cleanup, nc, subjects, "seven", (m) => void captured.push({ subject: m.subject, data: Uint8Array.from(m.data) }));
    await nc.flush();
    assert.equal(await client.call("relay", "acme:demo/relay", "call", [], { signer: hostSigner }), 7);
    await until(() => captured.length === 1 || undefined, 2_000, "the relay's call to seven");
    assert.equal(decodeCall(captured[0]!.data).signature?.signer, h.id, "signed by the host");
    assert.ok(decodeCall(captured[0]!.data).signature?.session, "with its session's MAC");
    const before = h.invocationStats.replayed;
    const reply = decodeReply((await nc.request(captured[0]!.subject, captured[0]!.data, { timeout: 5_000 })).data);
    assert.ok(!reply.ok && reply.error.code === ErrorCode.Unauthenticated, JSON.stringify(reply));
    assert.equal(h.invocationStats.replayed, before + 1);

    // The provider process signs with its host's key and its own sessions; the host fetches
    // their key from it and verifies.
    const verified = h.invocationStats.verified;
    for (let i = 0; i < 3; i++) assert.equal(await client.call("fx", "acme:demo/echo", "relay", ["seven", THING, "ping", []], { signer: userSigner }), 7);
    await until(() => captured.length === 5 || undefined, 2_000, "the provider's calls"); // the relay's, the replay, then the provider's three
    const fromFx = captured.slice(2).map((c) => decodeCall(c.data).signature);
    assert.equal(fromFx.length, 3);
    assert.ok(fromFx.every((x) => x?.signer === h.id));
    assert.ok(fromFx.some((x) => x?.session), "the provider's calls carry its session MAC");
    assert.ok(fromFx.every((x) => x?.session !== decodeCall(captured[0]!.data).signature?.session), "a session of its own, not the host's");
    assert.equal(h.invocationStats.verified, verified + 3);
  });

  it("with verification off again, unsigned calls work", async () => {
    await security(["--verify-invocations", "off"], false);
    assert.equal(await ping(), 7);
    await until(async () => (await code(client.call("fx", "acme:demo/echo", "echo", ["y"]))) === "ok" || undefined, 10_000, "the provider taking unsigned calls");
    const kept = await new LatticeState(nc, "default").getInvocationSecurity();
    assert.deepEqual(kept.trustedKeys, [user.getPublicKey()], "the trusted keys stay");
  });
});

describe("session keys: per-call MACs, keys fetched once from the signer", () => {
  const cleanup = new Cleanup();
  let nc: NatsConnection;
  const window = { skew: 0 };
  const signer = new CallSigner(seedOf(createServer()));
  const verifier = new SigningKey(seedOf(createServer()));
  const stranger = new SigningKey(seedOf(createServer()));
  let sessions: SigningSessions;
  let cache: SessionKeyCache;
  let guard: InvocationGuard;
  let runs = 0;
  const subject = subjects.invocation("sess", "acme:demo/n", "next");
  const settings = () => setting();
  const call = (over: Partial<Parameters<typeof invoke>[2]> = {}) =>
    invoke(nc, subjects, { target: "sess", iface: "acme:demo/n", fn: "next", args: ["hello"], source: "test", deadline: Date.now() + 5_000, signer, ...over });
  /** A server of `target` verifying with `g`, counting runs. */
  function serve(target: string, g: InvocationGuard, work: () => Promise<unknown> = () => Promise.resolve(++runs)): void {
    const server = new InvocationServer(nc, subjects, target, work, { instances: 1, responder: "test", defaultTimeoutMs: 5_000, guard: g });
    cleanup.add(() => server.stop());
  }
  const send = async (s: string, body: Uint8Array) => decodeReply((await nc.request(s, body, { timeout: 5_000 })).data);
  const refusedWith = (r: ReturnType<typeof decodeReply>, code: string, pattern: RegExp) =>
    assert.ok(!r.ok && r.error.code === code && pattern.test(r.error.message), JSON.stringify(r));

  before(async () => {
    const nats = await natsServer(cleanup);
    nc = await connection(cleanup, nats.clientUrl);
    // The signer gives keys to the verifier only; the verifier trusts the signer.
    sessions = signer.serveSessions(nc, subjects, (k) => k === verifier.publicKey);
    cleanup.add(() => signer.stop());
    cache = new SessionKeyCache(nc, subjects, verifier);
    guard = new InvocationGuard({ settings, trusted: (k) => k === signer.publicKey, sessions: cache, now: () => Date.now() + window.skew });
    serve("sess", guard);
    await nc.flush();
  });
  after(cleanup.run);

  it("a signer signs its first call with Ed25519, then with its session's MAC; the envelope says which", async () => {
    const first = await signer.signCall(subject, aCall());
    assert.equal(decodeCall(first.body).signature?.session, undefined);
    assert.ok(signedMessage(subject, first.body));
    await until(() => sessions.current(), 5_000, "the first session");
    const { body } = await signer.signCall(subject, aCall({ link: "l" }));
    const back = decodeCall(body);
    assert.equal(back.signature?.session, sessions.current()?.id);
    assert.equal(back.signature?.signature.length, MAC_BYTES);
    assert.equal(signedLength(body, MAC_BYTES), body.length - MAC_BYTES - 2);
    assert.equal(signedMessage(subject, body), undefined, "not an Ed25519 tail");
    // The fast path's bytes are the general encoder's bytes.
    const general = encodeCall(back);
    assert.deepEqual(Buffer.from(general), Buffer.from(body));
    // What an older receiver reads: the six fields, then fields it ignores.
    const [, , callId, source, link] = (await import("@msgpack/msgpack")).decode(body) as unknown[];
    assert.deepEqual([callId, source, link], [back.callId, "test", "l"]);
  });

  it("calls verify with one key fetch shared by concurrent calls; the key is cached", async () => {
    await until(() => sessions.current(), 5_000, "a session");
    const served = sessions.stats.served;
    const values = await Promise.all(Array.from({ length: 20 }, () => call()));
    assert.equal(values.length, 20);
    assert.equal(sessions.stats.served, served + 1, "one key request for twenty calls");
    assert.equal(cache.size, 1);
    assert.equal(guard.stats.verified, 20);
    await call();
    assert.equal(sessions.stats.served, served + 1);
  });

  it("refuses and counts a forged MAC, a tampered body, an unknown session, a replay and a stale issued-at", async () => {
    const captured: Uint8Array[] = [];
    tapCalls(cleanup, nc, subjects, "sess", (m) => void captured.push(Uint8Array.from(m.data)));
    await nc.flush();
    const before = { ...guard.stats };
    const runsBefore = runs;
    await call();
    await until(() => captured.length === 1 || undefined, 2_000, "the captured call");
    const genuine = captured[0]!;

    refusedWith(await send(subject, genuine), ErrorCode.Unauthenticated, /replays one already received/);

    const fresh = (await signer.signCall(subject, aCall())).body;
    const badMac = Uint8Array.from(fresh);
    badMac[badMac.length - 1]! ^= 1;
    refusedWith(await send(subject, badMac), ErrorCode.Unauthenticated, /MAC does not verify/);
    refusedWith(await send(subject, tamper(fresh, "hello")), ErrorCode.Unauthenticated, /MAC does not verify/);
    refusedWith(await send(subjects.invocation("sess", "acme:demo/n", "other"), fresh), ErrorCode.Unauthenticated, /MAC does not verify/);

    // Another session id (well-formed), nobody serves it: no key, refused.
    const c = decodeCall(fresh);
    const otherSession = encodeCall({ ...c, signature: { ...c.signature!, session: "AAAAAAAAAAAAAAAAAAAAAA" } });
    refusedWith(await send(subject, otherSession), ErrorCode.Unauthenticated, /no key for the call's session: nobody serves/);

    window.skew = 31_000;
    refusedWith(await send(subject, fresh), ErrorCode.Unauthenticated, /outside the 30 s window/);
    window.skew = 0;
    assert.equal((await send(subject, fresh)).ok, true, "the genuine call still passes: forgeries burn nothing");

    assert.equal(runs, runsBefore + 2);
    const d = (k: keyof typeof before) => guard.stats[k] - before[k];
    assert.deepEqual([d("verified"), d("replayed"), d("forged"), d("noSessionKey"), d("stale"), d("rejected")], [2, 1, 3, 1, 1, 6]);
  });

  it("a retry is MAC'd anew with a later issued-at and gets the remembered reply; the call runs once", async () => {
    let slowRuns = 0;
    serve("slow-sess", guard, async () => {
      await sleep(350);
      return ++slowRuns;
    });
    await nc.flush();
    const verified = guard.stats.verified;
    const r = await invoke(nc, subjects, { target: "slow-sess", iface: "acme:demo/n", fn: "next", args: [], source: "test", deadline: Date.now() + 5_000, attemptTimeoutMs: 100, signer });
    assert.equal(r.value, 1);
    assert.equal(slowRuns, 1);
    assert.ok(guard.stats.verified - verified >= 3, `every attempt verified (${guard.stats.verified - verified})`);
  });

  it("a verifier the signer does not trust gets no key, and refuses the call", async () => {
    const untrustedCache = new SessionKeyCache(nc, subjects, stranger);
    const g = new InvocationGuard({ settings, trusted: (k) => k === signer.publicKey, sessions: untrustedCache });
    serve("sess-stranger", g);
    await nc.flush();
    const refused = sessions.stats.refused;
    const e = await call({ target: "sess-stranger" }).then(() => undefined, (x: unknown) => x);
    assert.ok(e instanceof LatticeError && e.code === ErrorCode.Unauthenticated && /forbidden/.test(e.message), String(e));
    assert.equal(g.stats.noSessionKey, 1);
    assert.equal(sessions.stats.refused, refused + 1);
    assert.equal(untrustedCache.size, 0);
  });

  it("a key answer whose signature does not verify is refused", async () => {
    // A fake signer: answers with a well-sealed key, signed by another key than the one it claims.
    const claimed = new SigningKey(seedOf(createServer()));
    const session = "fakeSESSIONfakeSESSION";
    const key = crypto.getRandomValues(new Uint8Array(32));
    const sealer = createCurve();
    const sub = nc.subscribe(subjects.sessionKey(claimed.publicKey, session), {
      callback: (_e, m) => {
        void (async () => {
          const req = decode(SessionKeyRequest, m.data, "request");
          const a = { session, expiresAt: Date.now() + 60_000, sealer: sealer.getPublicKey(), sealed: toBase64Url(sealer.seal(key, req.curve)) };
          const signature = toBase64Url(await stranger.sign(sessionAnswerMessage(subjects.lattice, claimed.publicKey, req, a)));
          m.respond(encode({ ok: true, data: { ...a, signature } }));
        })();
      },
    });
    cleanup.add(() => sub.unsubscribe());
    const g = new InvocationGuard({ settings, trusted: (k) => k === claimed.publicKey, sessions: new SessionKeyCache(nc, subjects, verifier) });
    serve("sess-fake", g);
    await nc.flush();
    const s = subjects.invocation("sess-fake", "acme:demo/n", "next");
    const body = encodeCall({ ...aCall(), signature: { signer: claimed.publicKey, issuedAt: Date.now(), session, signature: new Uint8Array(MAC_BYTES) } });
    placeSignature(body, await callMac(key)(s, body.subarray(0, signedLength(body, MAC_BYTES))));
    refusedWith(await send(s, body), ErrorCode.Unauthenticated, /is not signed by/);
    assert.equal(g.stats.noSessionKey, 1);
  });

  it("rotation: a call signed with the previous session verifies until that session expires", async () => {
    const rotating = new CallSigner(seedOf(createServer()));
    const rs = rotating.serveSessions(nc, subjects, (k) => k === verifier.publicKey, { rotateMs: 400, lifetimeMs: 1_000 });
    cleanup.add(() => rotating.stop());
    const g = () => new InvocationGuard({ settings, trusted: (k) => k === rotating.publicKey, sessions: new SessionKeyCache(nc, subjects, verifier) });
    const fresh = g();
    serve("sess-rot", fresh);
    await nc.flush();
    const s = subjects.invocation("sess-rot", "acme:demo/n", "next");
    const first = await until(() => rs.current(), 5_000, "the first session");
    const old = (await rotating.signCall(s, aCall())).body;
    const later = (await rotating.signCall(s, aCall())).body;
    await until(() => rs.current()?.id !== first.id || undefined, 5_000, "a rotation");
    assert.equal(decodeCall(old).signature?.session, first.id);
    assert.equal((await send(s, old)).ok, true, "the old session's key is still served after the rotation");
    assert.notEqual(decodeCall((await rotating.signCall(s, aCall())).body).signature?.session, first.id, "new calls use the new session");
    // Past its expiry the old session is gone: a verifier without its key cannot get it.
    await sleep(Math.max(0, first.expiresAt - Date.now()) + 500);
    const late = g();
    serve("sess-rot-late", late);
    await nc.flush();
    const lateSubject = subjects.invocation("sess-rot-late", "acme:demo/n", "next");
    refusedWith(await send(lateSubject, later), ErrorCode.Unauthenticated, /nobody serves|expired/);
    assert.equal(late.stats.noSessionKey, 1);
  });

  it("garbage key requests get structured refusals; garbage key answers refuse the call; both sides keep working", async () => {
    const session = await until(() => sessions.current(), 5_000, "a session");
    const samples = fc.sample(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.jsonValue().map((v) => encode(v))), 300);
    for (const body of samples) {
      const r = JSON.parse(new TextDecoder().decode((await nc.request(subjects.sessionKey(signer.publicKey, session.id), body, { timeout: 5_000 })).data)) as { ok: boolean; error?: { code: string } };
      assert.ok(!r.ok && isErrorCode(r.error?.code), JSON.stringify(r));
    }
    // A "signer" whose key service answers garbage.
    const liar = new SigningKey(seedOf(createServer()));
    const lies = fc.sample(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.jsonValue().map((v) => encode({ ok: true, data: v }))), 100);
    let n = 0;
    const sub = nc.subscribe(`${subjects.sessionKey(liar.publicKey, "liarliarliarliarliar00")}`, { callback: (_e, m) => void m.respond(lies[n++ % lies.length]) });
    cleanup.add(() => sub.unsubscribe());
    const g = new InvocationGuard({ settings, trusted: () => true, sessions: new SessionKeyCache(nc, subjects, verifier) });
    serve("sess-liar", g);
    await nc.flush();
    const s = subjects.invocation("sess-liar", "acme:demo/n", "next");
    for (let i = 0; i < lies.length; i++) {
      const body = encodeCall({ ...aCall(), signature: { signer: liar.publicKey, issuedAt: Date.now(), session: "liarliarliarliarliar00", signature: new Uint8Array(MAC_BYTES).fill(i) } });
      const r = await send(s, body);
      assert.ok(!r.ok && r.error.code === ErrorCode.Unauthenticated, JSON.stringify(r));
    }
    assert.equal(g.stats.noSessionKey, lies.length);
    assert.equal(typeof (await call()), "object", "the genuine signer still serves");
  });

  it("a call waits for its session key no longer than its deadline", async () => {
    const silent = new SigningKey(seedOf(createServer()));
    const session = "silentsilentsilentsile";
    const sub = nc.subscribe(subjects.sessionKey(silent.publicKey, session), { callback: () => undefined });
    cleanup.add(() => sub.unsubscribe());
    const g = new InvocationGuard({ settings, trusted: () => true, sessions: new SessionKeyCache(nc, subjects, verifier) });
    await nc.flush();
    const body = encodeCall({ ...aCall({ deadline: Date.now() + 300 }), signature: { signer: silent.publicKey, issuedAt: Date.now(), session, signature: new Uint8Array(MAC_BYTES) } });
    const t0 = Date.now();
    const e = await refusal(g.check(subject, decodeCall(body), body));
    assert.match(e.message, /before the call's deadline|no answer for the key/);
    assert.ok(Date.now() - t0 < 2_000, `refused after ${Date.now() - t0} ms`);
    assert.equal(g.stats.noSessionKey, 1);
  });

  it("the cache of session keys is bounded", async () => {
    const small = new SessionKeyCache(nc, subjects, verifier, { max: 2 });
    const signers = [1, 2, 3].map(() => new CallSigner(seedOf(createServer())));
    const g = new InvocationGuard({ settings, trusted: () => true, sessions: small });
    serve("sess-small", g);
    await nc.flush();
    for (const x of signers) {
      const xs = x.serveSessions(nc, subjects, (k) => k === verifier.publicKey);
      cleanup.add(() => x.stop());
      await until(() => xs.current(), 5_000, "a session");
      await invoke(nc, subjects, { target: "sess-small", iface: "acme:demo/n", fn: "next", args: [], source: "test", deadline: Date.now() + 5_000, signer: x });
    }
    assert.equal(small.size, 2);
    assert.equal(g.stats.verified, 3);
  });
});
