/**
 * The invocation path against raw NATS request-reply, in one run, same client library, same
 * server, same 100-byte payload: a caller invoking a provider's function through the lattice
 * (headers, deadline, MessagePack, dispatch, link lookup) versus a bare request to a bare
 * responder, and the lattice path with every call signed and verified. The responders run in
 * another process, as providers do. Throughput with 100 calls in flight, the paths in alternating
 * rounds; latency one call at a time.
 */
import { spawn } from "node:child_process";
import { createHmac, createPrivateKey, createPublicKey, randomBytes, sign as nodeSign, verify as nodeVerify } from "node:crypto";
import { fileURLToPath } from "node:url";
import type { NatsConnection } from "@nats-io/nats-core";
import { createServer, createUser, fromPublic } from "@nats-io/nkeys";
import { invoke } from "../src/nats/invocations.js";
import { CallSigner, LatticeState, RESILIENT } from "../src/nats/index.js";
import { connectNode } from "../src/nats/node/index.js";
import { ErrorCode, LatticeError, Subjects, base32Decode } from "../src/protocol/index.js";
import { summarize, type Summary } from "./stats.js";

export interface PathFigures {
  callsPerSecond: number;
  latencyUs: Summary & { p99: number };
}

export interface InvocationResult {
  raw: PathFigures;
  lattice: PathFigures;
  throughputRatio: number;
  medianLatencyRatio: number;
  p99LatencyRatio: number;
  /** The lattice path with every call signed by the caller (session MAC) and verified by the provider. */
  signed: PathFigures;
  /** signed / lattice: what signing and verifying cost. */
  signedThroughputRatio: number;
  signedMedianLatencyRatio: number;
  /** The same with an Ed25519 signature per call (what `lattice call --signing-seed` sends). */
  signedEd25519: PathFigures;
  signedEd25519ThroughputRatio: number;
}

const PAYLOAD = new Uint8Array(100).fill(7);

/** Latency one call at a time, after a warm-up. */
async function latency(call: () => Promise<unknown>, sequential: number): Promise<PathFigures["latencyUs"]> {
  // Warm-up: the JIT needs a few thousand calls to settle a path (measured: the first 3,000 of a
  // path new to the process are up to 3 times slower than the next).
  for (let i = 0; i < 2_000; i++) await call();
  const lat: number[] = [];
  for (let i = 0; i < sequential; i++) {
    const t0 = performance.now();
    await call();
    lat.push((performance.now() - t0) * 1000);
  }
  const sorted = [...lat].sort((a, b) => a - b);
  const p99 = Math.round((sorted[Math.ceil(0.99 * sorted.length) - 1] ?? NaN) * 1000) / 1000;
  return { ...summarize(lat), p99 };
}

/** Milliseconds for `total` calls with `inFlight` at a time. */
async function burst(call: () => Promise<unknown>, total: number, inFlight: number): Promise<number> {
  let sent = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (sent++ < total) await call();
    }),
  );
  return performance.now() - t0;
}

/**
 * Calls per second of each path, measured in alternating rounds: the machine's load changes
 * from second to second (2 cores, shared), and alternating lets it weigh on every path alike, so
 * the ratios between them hold even when the absolute figures move.
 */
async function interleaved(calls: Array<() => Promise<unknown>>, total: number, inFlight: number, rounds = 6): Promise<number[]> {
  const ms = calls.map(() => 0);
  const perRound = Math.ceil(total / rounds);
  for (let r = 0; r < rounds; r++) for (const [i, call] of calls.entries()) ms[i]! += await burst(call, perRound, inFlight);
  return ms.map((m) => Math.round((perRound * rounds) / (m / 1000)));
}

export async function invocationPath(servers: string, opts = { sequential: 3_000, total: 30_000, inFlight: 100 }): Promise<InvocationResult> {
  const conns: NatsConnection[] = [];
  const conn = async () => {
    // Both paths on the same settings: the ones lattice members use.
    const nc = await connectNode({ ...RESILIENT, servers });
    conns.push(nc);
    return nc;
  };
  const caller = await conn();
  // The provider signs and fetches session keys with this key, as it would with its host's.
  const providerSeed = createServer().getSeed();
  const providerKey = new CallSigner(new TextDecoder().decode(providerSeed)).publicKey;
  const responders = spawn(process.execPath, [fileURLToPath(new URL("./echo-responders.js", import.meta.url)), servers], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, LATTICE_SIGNING_SEED: new TextDecoder().decode(providerSeed) },
  });
  try {
    await new Promise<void>((resolve, reject) => {
      responders.stdout.on("data", (d: Buffer) => d.toString().includes("ready") && resolve());
      responders.once("exit", (code) => reject(new Error(`echo responders exited (${code})`)));
    });
    // Two lattices, each with the same provider in the responder process: "bench" does not
    // verify invocations, "bench-signed" does (its setting on from the start), so the signed
    // and unsigned paths can be measured in alternation. Signed calls carry session MACs (the
    // caller serves its session keys, to the provider only), or one Ed25519 signature each.
    const subjects = new Subjects("bench");
    const signedSubjects = new Subjects("bench-signed");
    const signer = new CallSigner(new TextDecoder().decode(createUser().getSeed()));
    const perCall = new CallSigner(new TextDecoder().decode(createUser().getSeed()));
    await new LatticeState(caller, "bench-signed").putInvocationSecurity({ verify: true, windowMs: 30_000, trustedKeys: [signer.publicKey, perCall.publicKey] });
    const echo = (sub: Subjects, s?: CallSigner) => () =>
      invoke(caller, sub, { target: "bench", iface: "bench:echo/echo", fn: "echo", args: [PAYLOAD], source: "counter", deadline: Date.now() + 5_000, signer: s });
    await verifying(echo(signedSubjects));
    signer.serveSessions(caller, signedSubjects, (key) => key === providerKey);

    const rawCall = () => caller.request("bench.raw.echo", PAYLOAD, { timeout: 5_000 });
    const paths = [rawCall, echo(subjects), echo(signedSubjects, signer)];
    const latencies: Array<PathFigures["latencyUs"]> = [];
    for (const call of paths) latencies.push(await latency(call, opts.sequential));
    const rates = await interleaved(paths, opts.total, opts.inFlight);
    const [raw, lattice, signed] = paths.map((_, i): PathFigures => ({ callsPerSecond: rates[i]!, latencyUs: latencies[i]! }));
    const edLatency = await latency(echo(signedSubjects, perCall), opts.sequential);
    const [edRate, latticeAgain] = await interleaved([echo(signedSubjects, perCall), echo(subjects)], opts.total / 2, opts.inFlight, 3);
    const signedEd25519: PathFigures = { callsPerSecond: edRate!, latencyUs: edLatency };
    signer.stop();

    const r2 = (x: number) => Math.round(x * 100) / 100;
    return {
      raw: raw!,
      lattice: lattice!,
      throughputRatio: r2(lattice!.callsPerSecond / raw!.callsPerSecond),
      medianLatencyRatio: r2(lattice!.latencyUs.median / raw!.latencyUs.median),
      p99LatencyRatio: r2(lattice!.latencyUs.p99 / raw!.latencyUs.p99),
      signed: signed!,
      signedThroughputRatio: r2(signed!.callsPerSecond / lattice!.callsPerSecond),
      signedMedianLatencyRatio: r2(signed!.latencyUs.median / lattice!.latencyUs.median),
      signedEd25519,
      signedEd25519ThroughputRatio: r2(edRate! / latticeAgain!),
    };
  } finally {
    responders.kill("SIGTERM");
    await Promise.all(conns.map((c) => c.close()));
  }
}

/** Wait until the provider has the setting: an unsigned call is refused. */
async function verifying(unsigned: () => Promise<unknown>): Promise<void> {
  for (const stop = Date.now() + 10_000; Date.now() < stop; ) {
    const refused = await unsigned().then(
      () => false,
      (e: unknown) => e instanceof LatticeError && e.code === ErrorCode.Unauthenticated,
    );
    if (refused) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("the provider did not start verifying invocations");
}

export interface Ed25519Costs {
  /** Microseconds per operation, one at a time, a 200-byte message. WebCrypto: what a browser uses. */
  webCrypto: { signUs: number; verifyUs: number };
  /** What invocations use in Node. */
  nodeCrypto: { signUs: number; verifyUs: number };
  /** @nats-io/nkeys (tweetnacl, pure JavaScript). */
  nkeys: { signUs: number; verifyUs: number };
  /** For comparison: an HMAC-SHA256 of the same message (node:crypto), what a symmetric session would cost per call and side. */
  hmacSha256Us: number;
}

/** What one Ed25519 signature and verification cost with each implementation at hand. */
export async function ed25519Costs(): Promise<Ed25519Costs> {
  const kp = createUser();
  const message = new Uint8Array(200).fill(3);
  const time = async (n: number, f: () => unknown): Promise<number> => {
    for (let i = 0; i < Math.min(n, 50); i++) await f();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await f();
    return Math.round(((performance.now() - t0) * 1000) / n);
  };
  // An nkey seed decodes to 2 prefix bytes, the 32-byte Ed25519 seed and 2 checksum bytes.
  const seed = base32Decode(new TextDecoder().decode(kp.getSeed())).subarray(2, 34);
  const pkcs8 = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), Buffer.from(seed)]);
  const nodePrivate = createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" });
  const nodePublic = createPublicKey(nodePrivate);
  const sig = nodeSign(null, message, nodePrivate);
  const subtle = globalThis.crypto.subtle;
  const wcPrivate = await subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, false, ["sign"]);
  const wcPublic = await subtle.importKey("spki", nodePublic.export({ format: "der", type: "spki" }), { name: "Ed25519" }, false, ["verify"]);
  const nk = fromPublic(kp.getPublicKey());
  const macKey = randomBytes(32);
  return {
    webCrypto: { signUs: await time(2_000, () => subtle.sign("Ed25519", wcPrivate, message)), verifyUs: await time(2_000, () => subtle.verify("Ed25519", wcPublic, sig, message)) },
    nodeCrypto: { signUs: await time(2_000, () => nodeSign(null, message, nodePrivate)), verifyUs: await time(2_000, () => nodeVerify(null, message, nodePublic, sig)) },
    nkeys: { signUs: await time(10, () => kp.sign(message)), verifyUs: await time(10, () => nk.verify(message, sig)) },
    hmacSha256Us: await time(20_000, () => createHmac("sha256", macKey).update(message).digest()),
  };
}

