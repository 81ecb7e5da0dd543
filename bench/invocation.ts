/**
 * The invocation path against raw NATS request-reply, in one run, same client library, same
 * server, same 100-byte payload: a caller invoking a provider's function through the lattice
 * (headers, deadline, MessagePack, dispatch, link lookup) versus a bare request to a bare
 * responder. Both responders run in another process, as providers do. Throughput with 100 calls
 * in flight; latency one call at a time.
 */
import { spawn } from "node:child_process";
import { createHmac, createPrivateKey, createPublicKey, randomBytes, sign as nodeSign, verify as nodeVerify } from "node:crypto";
import { fileURLToPath } from "node:url";
import type { NatsConnection } from "@nats-io/nats-core";
import { createUser, fromPublic } from "@nats-io/nkeys";
import { invoke } from "../src/nats/invocations.js";
import { CallSigner, LatticeState, RESILIENT } from "../src/nats/index.js";
import { connectNode } from "../src/nats/node.js";
import { ErrorCode, LatticeError, Subjects } from "../src/protocol/index.js";
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
  /** The lattice path with every call signed by the caller and verified by the provider. */
  signed: PathFigures;
  /** signed / lattice: what signing and verifying cost. */
  signedThroughputRatio: number;
  signedMedianLatencyRatio: number;
}

const PAYLOAD = new Uint8Array(100).fill(7);

async function measure(call: () => Promise<unknown>, sequential: number, total: number, inFlight: number): Promise<PathFigures> {
  for (let i = 0; i < 200; i++) await call(); // warm-up
  const lat: number[] = [];
  for (let i = 0; i < sequential; i++) {
    const t0 = performance.now();
    await call();
    lat.push((performance.now() - t0) * 1000);
  }
  let sent = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (sent++ < total) await call();
    }),
  );
  const callsPerSecond = Math.round(total / ((performance.now() - t0) / 1000));
  const sorted = [...lat].sort((a, b) => a - b);
  const p99 = Math.round((sorted[Math.ceil(0.99 * sorted.length) - 1] ?? NaN) * 1000) / 1000;
  return { callsPerSecond, latencyUs: { ...summarize(lat), p99 } };
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
  const responders = spawn(process.execPath, [fileURLToPath(new URL("./echo-responders.js", import.meta.url)), servers], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    await new Promise<void>((resolve, reject) => {
      responders.stdout.on("data", (d: Buffer) => d.toString().includes("ready") && resolve());
      responders.once("exit", (code) => reject(new Error(`echo responders exited (${code})`)));
    });
    const raw = await measure(() => caller.request("bench.raw.echo", PAYLOAD, { timeout: 5_000 }), opts.sequential, opts.total, opts.inFlight);
    const subjects = new Subjects("bench");
    const lattice = await measure(
      () => invoke(caller, subjects, { target: "bench", iface: "bench:echo/echo", fn: "echo", args: [PAYLOAD], source: "counter", deadline: Date.now() + 5_000 }),
      opts.sequential,
      opts.total,
      opts.inFlight,
    );

    // The same calls, signed, against a provider that verifies them (the lattice setting on).
    const signer = new CallSigner(new TextDecoder().decode(createUser().getSeed()));
    await new LatticeState(caller, "bench").putInvocationSecurity({ verify: true, windowMs: 30_000, trustedKeys: [signer.publicKey] });
    await verifying(() => invoke(caller, subjects, { target: "bench", iface: "bench:echo/echo", fn: "echo", args: [PAYLOAD], source: "counter", deadline: Date.now() + 5_000 }));
    const signed = await measure(
      () => invoke(caller, subjects, { target: "bench", iface: "bench:echo/echo", fn: "echo", args: [PAYLOAD], source: "counter", deadline: Date.now() + 5_000, signer }),
      opts.sequential,
      opts.total,
      opts.inFlight,
    );
    await new LatticeState(caller, "bench").putInvocationSecurity({ verify: false, windowMs: 30_000, trustedKeys: [] });

    const r2 = (x: number) => Math.round(x * 100) / 100;
    return {
      raw,
      lattice,
      throughputRatio: r2(lattice.callsPerSecond / raw.callsPerSecond),
      medianLatencyRatio: r2(lattice.latencyUs.median / raw.latencyUs.median),
      p99LatencyRatio: r2(lattice.latencyUs.p99 / raw.latencyUs.p99),
      signed,
      signedThroughputRatio: r2(signed.callsPerSecond / lattice.callsPerSecond),
      signedMedianLatencyRatio: r2(signed.latencyUs.median / lattice.latencyUs.median),
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
  const pkcs8 = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), Buffer.from(rawSeed(kp))]);
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

/** The 32 raw bytes of an nkey seed: base32, after two prefix bytes. */
function rawSeed(kp: { getSeed(): Uint8Array }): Uint8Array {
  const s = new TextDecoder().decode(kp.getSeed());
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const ch of s) {
    acc = (acc << 5) | "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".indexOf(ch);
    bits += 5;
    if (bits >= 8) out.push((acc >> (bits -= 8)) & 0xff);
  }
  return Uint8Array.from(out.slice(2, 34));
}
