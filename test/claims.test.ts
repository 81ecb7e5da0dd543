/**
 * Signed actors: claims tokens signed and verified (tampered token, tampered code, wrong issuer,
 * expired, not yet valid), the claims section of a component, a host that trusts one issuer
 * refusing every other actor with the reason and running a signed one, links limited to an
 * actor's caps, the `keys gen` / `sign` / `inspect` commands, and the decoder under fuzzing.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { createAccount, createOperator, type KeyPair } from "@nats-io/nkeys";
import type { NatsConnection } from "@nats-io/nats-core";
import { claimsToken, codeHash, embedClaims, verifyComponentClaims, withoutClaims } from "../src/actor/index.js";
import { LatticeClient } from "../src/ctl/index.js";
import type { Host } from "../src/host/index.js";
import { ArtifactStore } from "../src/nats/artifact-store.js";
import { LatticeState } from "../src/nats/lattice-state.js";
import type { NatsServer } from "../src/nats/node/index.js";
import {
  ClaimsError,
  LatticeError,
  capsAllow,
  createModuleKey,
  isErrorCode,
  isLatticeError,
  isModulePublicKey,
  moduleKeyFromSeed,
  parseClaimsToken,
  signClaims,
  verifyClaims,
  type SignOptions,
} from "../src/protocol/index.js";
import { cliJson, runCli } from "./kit/cli.js";
import { exampleComponent, watEcho, watNeedsImport, watThing } from "./kit/fixtures.js";
import { Cleanup, connection, host, natsServer } from "./kit/lattice.js";
import { until } from "./kit/poll.js";

const seedOf = (kp: KeyPair) => new TextDecoder().decode(kp.getSeed());
const HASH = `sha256:${"ab".repeat(32)}`;

/** The ClaimsError a function threw (sync or async), or a failure if it did not. */
async function refusal(fn: () => unknown): Promise<ClaimsError> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof ClaimsError) return e;
    throw e;
  }
  assert.fail("expected a claims refusal");
}

async function signed(bytes: Uint8Array, o: Omit<SignOptions, "hash">): Promise<Uint8Array> {
  return embedClaims(bytes, signClaims({ ...o, hash: await codeHash(bytes) }).token);
}

/** Flip the base64url character at `index` of token part `part` to another valid one. */
function flip(token: string, part: number, index: number): string {
  const parts = token.split(".");
  const p = parts[part]!;
  const c = p[index % p.length]!;
  parts[part] = p.slice(0, index % p.length) + (c === "A" ? "B" : "A") + p.slice((index % p.length) + 1);
  return parts.join(".");
}

describe("claims tokens", () => {
  const issuer = createAccount();
  const other = createAccount();

  it("sign and verify: the claims say who, what, which caps and which code", () => {
    const s = signClaims({ issuerSeed: seedOf(issuer), name: "echo", version: "1.0", caps: ["wasi:keyvalue", "wasi:keyvalue"], hash: HASH, expiresInSeconds: 60 });
    const c = verifyClaims(s.token, { hash: HASH, allowedIssuers: [issuer.getPublicKey()] });
    assert.equal(c.iss, issuer.getPublicKey());
    assert.ok(isModulePublicKey(c.sub), c.sub);
    assert.deepEqual(c.lattice, { name: "echo", version: "1.0", caps: ["wasi:keyvalue"], hash: HASH });
    assert.equal(c.exp, c.iat + 60);
    assert.ok(s.subjectSeed?.startsWith("SM"));
    // The header is the NATS JWT one.
    assert.deepEqual(JSON.parse(Buffer.from(s.token.split(".")[0]!, "base64url").toString()), { typ: "JWT", alg: "ed25519-nkey" });
    // An operator may issue too; a given subject seed keeps the subject key.
    const op = createOperator();
    const again = signClaims({ issuerSeed: seedOf(op), subjectSeed: s.subjectSeed, name: "echo", hash: HASH });
    assert.equal(verifyClaims(again.token, { hash: HASH }).sub, c.sub);
    assert.equal(again.subjectSeed, undefined);
  });

  it("module keys: M… public keys from SM… seeds, checksummed", () => {
    const m = createModuleKey();
    assert.match(m.publicKey, /^M[A-Z2-7]{55}$/);
    assert.match(m.seed, /^SM[A-Z2-7]{56}$/);
    assert.equal(moduleKeyFromSeed(m.seed).publicKey, m.publicKey);
    assert.equal(isModulePublicKey(issuer.getPublicKey()), false);
    const last = m.publicKey.at(-2) === "A" ? "B" : "A";
    assert.equal(isModulePublicKey(m.publicKey.slice(0, -2) + last + m.publicKey.at(-1)), false);
    assert.throws(() => moduleKeyFromSeed(seedOf(issuer)), /not an nkey module/);
  });

  it("a tampered token fails its signature; a foreign issuer is not allowed", async () => {
    const { token } = signClaims({ issuerSeed: seedOf(issuer), name: "echo", caps: ["acme:x"], hash: HASH });
    // Another payload under the same signature: claims widened by someone without the seed.
    const parts = token.split(".");
    const payload = JSON.parse(Buffer.from(parts[1]!, "base64url").toString()) as { lattice: { caps: string[] } };
    payload.lattice.caps.push("wasi:keyvalue");
    const widened = [parts[0], Buffer.from(JSON.stringify(payload)).toString("base64url"), parts[2]].join(".");
    assert.equal((await refusal(() => verifyClaims(widened, { hash: HASH }))).reason, "bad signature");
    assert.equal((await refusal(() => verifyClaims(flip(token, 2, 5), { hash: HASH }))).reason, "bad signature");
    // Re-signed by another key, claiming the trusted issuer: still its signature that counts.
    const forged = signClaims({ issuerSeed: seedOf(other), name: "echo", hash: HASH });
    const asTrusted = parts[0] + "." + Buffer.from(JSON.stringify({ ...forged.claims, iss: issuer.getPublicKey() })).toString("base64url") + "." + forged.token.split(".")[2];
    assert.equal((await refusal(() => verifyClaims(asTrusted, { hash: HASH }))).reason, "bad signature");
    const foreign = await refusal(() => verifyClaims(forged.token, { hash: HASH, allowedIssuers: [issuer.getPublicKey()] }));
    assert.equal(foreign.reason, "issuer not allowed");
    assert.equal(foreign.code, "forbidden");
    assert.match(foreign.message, new RegExp(`^issuer not allowed: issuer ${other.getPublicKey()}`));
    for (const junk of ["", "a.b", "a.b.c", "....", `${parts[0]}.e30.${parts[2]}`]) {
      assert.equal((await refusal(() => parseClaimsToken(junk))).reason, "malformed", junk);
    }
  });

  it("expired and not-yet-valid claims are refused; within the period they pass", async () => {
    const now = Date.UTC(2026, 0, 1);
    const o = { issuerSeed: seedOf(issuer), name: "echo", hash: HASH, now };
    const { token } = signClaims({ ...o, expiresInSeconds: 3600 });
    assert.ok(verifyClaims(token, { hash: HASH, now: now + 3_599_000 }));
    const late = await refusal(() => verifyClaims(token, { hash: HASH, now: now + 3_600_000 }));
    assert.deepEqual([late.reason, late.message], ["expired", "expired: expired at 2026-01-01T01:00:00.000Z"]);
    const early = signClaims({ ...o, notBeforeSeconds: 600 }).token;
    assert.equal((await refusal(() => verifyClaims(early, { hash: HASH, now: now + 599_000 }))).reason, "not yet valid");
    assert.ok(verifyClaims(early, { hash: HASH, now: now + 600_000 }));
  });

  it("caps cover an interface exactly or by its whole package, with or without a version", () => {
    assert.equal(capsAllow(["wasi:keyvalue"], "wasi:keyvalue/store@0.2.0-draft"), true);
    assert.equal(capsAllow(["wasi:keyvalue/store"], "wasi:keyvalue/store"), true);
    assert.equal(capsAllow(["wasi:keyvalue/store"], "wasi:keyvalue/atomics"), false);
    assert.equal(capsAllow(["wasi:key"], "wasi:keyvalue/store"), false);
    assert.equal(capsAllow(["wasi:keyvalue"], "wasi:keyvaluex/store"), false);
    assert.equal(capsAllow([], "acme:nowhere/thing"), false);
  });
});

describe("the claims section of a component", () => {
  const issuer = createAccount();

  it("embedding appends one section; stripping it gives the original bytes back", async () => {
    const code = await watEcho();
    assert.equal(claimsToken(code), undefined);
    const once = await signed(code, { issuerSeed: seedOf(issuer), name: "echo" });
    const twice = await signed(once, { issuerSeed: seedOf(issuer), name: "echo2" });
    assert.deepEqual(withoutClaims(once), code);
    assert.deepEqual(withoutClaims(twice), code);
    assert.equal(await codeHash(twice), await codeHash(code));
    assert.equal(parseClaimsToken(claimsToken(twice)!).claims.lattice.name, "echo2", "re-signing replaces the claims");
    assert.equal((await verifyComponentClaims(twice, { allowedIssuers: [issuer.getPublicKey()] }))?.lattice.name, "echo2");
  });

  it("unsigned is refused only where issuers are required; tampered code is a hash mismatch", async () => {
    const code = await watThing(7);
    assert.equal(await verifyComponentClaims(code), undefined);
    assert.equal((await refusal(() => verifyComponentClaims(code, { allowedIssuers: [issuer.getPublicKey()] }))).reason, "unsigned");
    const good = await signed(code, { issuerSeed: seedOf(issuer), name: "thing" });
    // The claims of thing(7) on the code of thing(8): same size, one constant changed.
    const swapped = embedClaims(await watThing(8), claimsToken(good)!);
    assert.equal((await refusal(() => verifyComponentClaims(swapped))).reason, "hash mismatch");
    // Two claims sections: refused rather than guessing which one counts.
    const doubled = new Uint8Array([...good, ...good.subarray(code.length)]);
    assert.equal((await refusal(() => verifyComponentClaims(doubled))).reason, "malformed");
  });
});

describe("fuzzing the claims decoder and the section reader", () => {
  const RUNS = 10_000;
  const issuer = createAccount();

  /** Only a LatticeError with a known code may come out. */
  async function onlyLatticeErrors(fn: () => unknown): Promise<boolean> {
    try {
      await fn();
      return true;
    } catch (e) {
      return e instanceof LatticeError && isErrorCode(e.code);
    }
  }

  it(`${RUNS} random and mutated tokens: claims or a LatticeError, never a crash`, async () => {
    const tokens = [
      signClaims({ issuerSeed: seedOf(issuer), name: "a", caps: ["wasi:keyvalue"], hash: HASH, expiresInSeconds: 10 }).token,
      signClaims({ issuerSeed: seedOf(createOperator()), name: "b", version: "2", hash: HASH, notBeforeSeconds: 5 }).token,
    ];
    const alphabet = fc.constantFrom(..."ABCxyz019-_.=+/ {}\"é\u0000".split(""));
    const mutated = fc
      .tuple(fc.constantFrom(...tokens), fc.array(fc.tuple(fc.nat(), alphabet), { maxLength: 6 }), fc.nat(), fc.string({ maxLength: 8 }))
      .map(([t, edits, cut, tail]) => {
        const chars = [...t];
        for (const [at, c] of edits) chars[at % chars.length] = c;
        return chars.slice(0, chars.length - (cut % 5)).join("") + tail;
      });
    const json = fc.jsonValue().map((v) => `${tokens[0]!.split(".")[0]}.${Buffer.from(JSON.stringify(v)).toString("base64url")}.${tokens[0]!.split(".")[2]}`);
    const anyToken = fc.oneof(fc.string({ maxLength: 300 }), mutated, json);
    await fc.assert(fc.asyncProperty(anyToken, async (t) => onlyLatticeErrors(() => parseClaimsToken(t))), { numRuns: RUNS });
    // The whole verification too, on fewer: an ed25519 check in JavaScript takes milliseconds.
    await fc.assert(
      fc.asyncProperty(anyToken, async (t) => onlyLatticeErrors(() => verifyClaims(t, { hash: HASH, allowedIssuers: [issuer.getPublicKey()] }))),
      { numRuns: 500 },
    );
  });

  it(`${RUNS} random and mutated components: claims read or a LatticeError, never a crash or hang`, async () => {
    const good = await signed(await watThing(1), { issuerSeed: seedOf(issuer), name: "t", caps: ["acme:x"] });
    const tail = good.length - (await watThing(1)).length; // where the claims section starts, from the end
    const bytes = fc
      .tuple(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.boolean(), fc.nat(), fc.uint8Array({ maxLength: 12 }))
      .map(([flips, inSection, cut, extra]) => {
        const out = Uint8Array.from(good);
        // Half the flips land in the claims section, where a parser has the most to get wrong.
        for (const [at, b] of flips) out[inSection ? out.length - 1 - (at % tail) : at % out.length] = b;
        return new Uint8Array([...out.subarray(0, out.length - (cut % 3 === 0 ? cut % 40 : 0)), ...extra]);
      });
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 64 }), bytes), async (b) =>
        onlyLatticeErrors(async () => {
          withoutClaims(b);
          await verifyComponentClaims(b, { allowedIssuers: [issuer.getPublicKey()] });
        }),
      ),
      { numRuns: RUNS },
    );
  });
});

describe("a host that trusts one issuer", () => {
  const cleanup = new Cleanup();
  const issuer = createAccount();
  const stranger = createAccount();
  let nats: NatsServer;
  let h: Host;
  let nc: NatsConnection;
  let client: LatticeClient;
  let store: ArtifactStore;
  let state: LatticeState;
  const failures: string[] = [];

  const sign = (bytes: Uint8Array, o: Partial<SignOptions> = {}) => signed(bytes, { issuerSeed: seedOf(issuer), name: "test", ...o });

  /** Push and start one instance on the host; the error it was refused with, or undefined. */
  async function start(actorId: string, bytes: Uint8Array): Promise<LatticeError | undefined> {
    await store.put({ name: actorId, version: "1" }, bytes);
    try {
      await client.scaleOnHost(h.id, { actorId, ref: `${actorId}:1`, instances: 1 });
      return undefined;
    } catch (e) {
      if (isLatticeError(e)) return e;
      throw e;
    }
  }

  async function callError(p: Promise<unknown>): Promise<LatticeError> {
    try {
      const v = await p;
      assert.fail(`expected the call to fail, it returned ${String(v)}`);
    } catch (e) {
      if (isLatticeError(e)) return e;
      throw e;
    }
  }

  before(async () => {
    nats = await natsServer(cleanup, { jetstream: {} });
    h = await host(cleanup, nats.clientUrl, { name: "trusting", allowedIssuers: [issuer.getPublicKey()] });
    nc = await connection(cleanup, nats.clientUrl);
    client = new LatticeClient(nc, "default", { timeoutMs: 10_000 });
    store = new ArtifactStore(nc, "default");
    state = new LatticeState(nc, "default");
    const abort = new AbortController();
    cleanup.add(() => abort.abort());
    void (async () => {
      for await (const r of client.events(abort.signal)) if ("event" in r && r.event.type === "lattice.actor_start_failed") failures.push(JSON.stringify(r.event.data));
    })().catch(() => undefined);
  });
  after(cleanup.run);

  it("refuses unsigned, tampered, foreign-issued and expired actors, each with the reason", async () => {
    const code = await watThing(7);
    const cases: Array<[string, Uint8Array, RegExp]> = [
      ["unsigned", code, /^actor unsigned refused: unsigned: /],
      ["tampered", embedClaims(await watThing(8), claimsToken(await sign(code))!), /^actor tampered refused: hash mismatch: /],
      ["foreign", await sign(code, { issuerSeed: seedOf(stranger) }), new RegExp(`^actor foreign refused: issuer not allowed: issuer ${stranger.getPublicKey()}`)],
      ["expired", await sign(code, { now: Date.now() - 7_200_000, expiresInSeconds: 3600 }), /^actor expired refused: expired: expired at /],
    ];
    for (const [id, bytes, re] of cases) {
      const e = await start(id, bytes);
      assert.ok(e, `${id} was started`);
      assert.equal(e.code, "forbidden", id);
      assert.match(e.message, re, id);
      await until(() => failures.some((f) => f.includes(`"actorId":"${id}"`) && re.test((JSON.parse(f) as { error: { message: string } }).error.message)) || undefined, 5_000, `actor_start_failed for ${id}`);
    }
    assert.deepEqual((await client.inventory(h.id)).actors, [], "nothing refused runs");
  });

  it("runs a signed actor, answers its calls, and reports its claims in the inventory", async () => {
    assert.equal(await start("echo", await sign(await watEcho(), { name: "echo", version: "1.2", caps: ["acme:nowhere"] })), undefined);
    assert.equal(await client.call("echo", "acme:demo/echo", "echo", ["signed"]), "signed");
    const entry = (await client.inventory(h.id)).actors.find((a) => a.id === "echo");
    assert.deepEqual({ ...entry?.claims, subject: undefined }, { issuer: issuer.getPublicKey(), subject: undefined, name: "echo", version: "1.2", caps: ["acme:nowhere"] });
    assert.match(entry?.claims?.subject ?? "", /^M/);
  });

  it("a link outside an actor's caps is refused; one inside them works", async () => {
    assert.equal(await start("thing", await sign(await watThing(7))), undefined);
    const relay = await watNeedsImport();
    assert.equal(await start("allowed", await sign(relay, { caps: ["acme:nowhere/thing"] })), undefined);
    assert.equal(await start("denied", await sign(relay, { caps: ["wasi:keyvalue"] })), undefined);
    for (const source of ["allowed", "denied"]) await state.putLink({ source, target: "thing", interface: "acme:nowhere", name: "default", config: [] });
    await until(() => (h.state.findLink("allowed", "acme:nowhere/thing") && h.state.findLink("denied", "acme:nowhere/thing")) || undefined, 10_000, "links in the host's cache");
    assert.equal(await client.call("allowed", "acme:demo/relay", "call", []), 7);
    const e = await callError(client.call("denied", "acme:demo/relay", "call", []));
    assert.equal(e.code, "forbidden");
    assert.match(e.message, /actor denied may not call acme:nowhere\/thing: its claims \(test, issuer A\w+\) allow only wasi:keyvalue/);
  });

  it("wasi:keyvalue through a link: the whole package allowed counts; store alone cannot increment", async () => {
    await client.startProviderOn(h.id, { providerId: "kv", ref: "keyvalue", config: { backend: "memory" } });
    const counter = await exampleComponent("counter");
    assert.equal(await start("counter-kv", await sign(counter, { caps: ["wasi:keyvalue"] })), undefined);
    assert.equal(await start("counter-store", await sign(counter, { caps: ["wasi:keyvalue/store"] })), undefined);
    for (const source of ["counter-kv", "counter-store"]) await state.putLink({ source, target: "kv", interface: "wasi:keyvalue", name: "default", config: [] });
    await until(() => h.state.findLink("counter-store", "wasi:keyvalue/atomics") || undefined, 10_000, "links in the host's cache");
    assert.equal(Number(await client.call("counter-kv", "acme:demo/counter", "increment", ["n"])), 1);
    assert.equal(Number(await client.call("counter-kv", "acme:demo/counter", "increment", ["n"])), 2);
    const e = await callError(client.call("counter-store", "acme:demo/counter", "increment", ["n"]));
    assert.equal(e.code, "forbidden");
    assert.match(e.message, /actor counter-store may not call wasi:keyvalue\/atomics: .* allow only wasi:keyvalue\/store/);
  });
});

describe("lattice keys gen, sign, inspect", () => {
  const dir = tmpdir();
  const file = join(dir, `lattice-claims-${process.pid}.wasm`);
  after(() => {
    for (const f of [file, file.replace(/\.wasm$/, ".signed.wasm")]) rmSync(f, { force: true });
  });

  it("makes a key, signs a component with it, and inspects the result", async () => {
    writeFileSync(file, await watEcho());
    const key = await cliJson<{ type: string; publicKey: string; seed: string }>(["keys", "gen"]);
    assert.equal(key.type, "account");
    assert.match(key.publicKey, /^A[A-Z2-7]{55}$/);
    assert.match(key.seed, /^SA/);
    const mod = await cliJson<{ publicKey: string; seed: string }>(["keys", "gen", "--type", "module"]);
    assert.match(mod.publicKey, /^M/);

    const env = { LATTICE_ISSUER_SEED: key.seed };
    const out = await cliJson<{ file: string; claims: { iss: string; sub: string } }>(
      ["sign", file, "--name", "echo", "--ver", "1.0", "--caps", "wasi:keyvalue/store,acme:nowhere", "--expires", "30d", "--subject", mod.seed],
      env,
    );
    assert.equal(out.file, file.replace(/\.wasm$/, ".signed.wasm"));
    assert.deepEqual([out.claims.iss, out.claims.sub], [key.publicKey, mod.publicKey]);

    interface Inspection {
      signed: boolean;
      valid: boolean;
      problems: string[];
      hash: string;
      expires?: string;
      claims?: { iss: string; lattice: { name: string; version?: string; caps: string[]; hash: string } };
    }
    const seen = await cliJson<Inspection>(["inspect", out.file]);
    assert.deepEqual([seen.signed, seen.valid, seen.problems], [true, true, []]);
    assert.deepEqual(seen.claims?.lattice, { name: "echo", version: "1.0", caps: ["wasi:keyvalue/store", "acme:nowhere"], hash: seen.hash });
    const days = (Date.parse(seen.expires ?? "") - Date.now()) / 86_400_000;
    assert.ok(days > 29.9 && days <= 30, `expires in ${days} days`);

    const unsigned = await cliJson<Inspection>(["inspect", file]);
    assert.deepEqual([unsigned.signed, unsigned.valid], [false, false]);
    assert.equal(unsigned.hash, seen.hash, "the code hash leaves the claims out");

    // One byte of code changed after signing: inspect says so.
    const bytes = readFileSync(out.file);
    const at = bytes.indexOf(Buffer.from("spin")); // an export name: still valid Wasm, different code
    bytes[at] = "S".charCodeAt(0);
    writeFileSync(out.file, bytes);
    const tampered = await cliJson<Inspection>(["inspect", out.file]);
    assert.equal(tampered.valid, false);
    assert.match(tampered.problems.join(";"), /^hash mismatch: /);
  });

  it("refuses to sign without an issuer, and a host refuses a malformed issuer list", async () => {
    writeFileSync(file, await watEcho());
    const noIssuer = await runCli(["sign", file, "--name", "echo"], { LATTICE_ISSUER_SEED: "" });
    assert.equal(noIssuer.code, 1);
    assert.match(noIssuer.stderr, /no issuer: give --issuer/);
    const userSeed = await runCli(["sign", file, "--name", "echo", "--issuer", "SUACSSL3UAHUDXKFSNVUZRF5UHPMWZ6BFDTJ7M6USDXIEDNPPQYYYCU3VY"]);
    assert.notEqual(userSeed.code, 0);
    assert.match(userSeed.stderr, /account \(SA…\) or operator \(SO…\) seed/);
    const host = await runCli(["host", "--allowed-issuers", "NOPE", "--nats-url", "nats://127.0.0.1:1"]);
    assert.notEqual(host.code, 0);
    assert.match(host.stderr, /invalid issuer "NOPE"/);
  });
});
