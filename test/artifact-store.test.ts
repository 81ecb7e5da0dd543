// The artifact store against real nats-server processes with JetStream: push and fetch by name,
// `latest`, integrity, JetStream missing, and fetching across one and two leaf hops.
import { after, before, describe, test } from "node:test";
import * as assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "@bytecodealliance/jco-transpile/wasm-tools";
import { Objm } from "@nats-io/obj";
import type { NatsConnection } from "@nats-io/nats-core";
import { digestOf } from "../src/nats/wasm-binary.js";
import { ArtifactStore, DIGEST_METADATA_KEY, artifactBucketName, type ArtifactInfo } from "../src/nats/artifact-store.js";
import type { NatsServer } from "../src/nats/node/server-launcher.js";
import { ErrorCode, LatticeError, parseArtifactRef } from "../src/protocol/index.js";
import { Cleanup, connection, natsServer } from "./kit/lattice.js";
import { runCli } from "./kit/cli.js";
import { until } from "./kit/poll.js";

const ref = parseArtifactRef;

/** A valid component, made bigger than one object-store chunk (128 KiB) by a custom section. */
async function component(tag: string, payloadBytes = 0): Promise<Uint8Array> {
  const base = await parse("(component)");
  const name = new TextEncoder().encode(tag);
  const content = new Uint8Array(1 + name.length + payloadBytes);
  content[0] = name.length;
  content.set(name, 1);
  for (let i = 0; i < payloadBytes; i++) content[1 + name.length + i] = (i * 31 + tag.length) & 0xff;
  const size = leb128(content.length);
  const out = new Uint8Array(base.length + 1 + size.length + content.length);
  out.set(base, 0);
  out[base.length] = 0; // custom section
  out.set(size, base.length + 1);
  out.set(content, base.length + 1 + size.length);
  return out;
}

function leb128(n: number): Uint8Array {
  const bytes: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    bytes.push(b);
  } while (n !== 0);
  return Uint8Array.from(bytes);
}

/** Asserts that `p` rejects with a LatticeError of `code` whose message matches `text`. */
async function rejectsWith(p: Promise<unknown>, code: string, text: RegExp | string): Promise<LatticeError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof LatticeError, `expected a LatticeError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (typeof text === "string") assert.equal(e.message, text);
    else assert.match(e.message, text);
    return e;
  }
  assert.fail("expected a rejection");
}

describe("artifact store on one server", () => {
  const cleanup = new Cleanup();
  let server: NatsServer;
  let pusher: NatsConnection;
  let fetcher: NatsConnection;
  after(cleanup.run);
  before(async () => {
    server = await natsServer(cleanup, { jetstream: {} });
    pusher = await connection(cleanup, server.clientUrl);
    fetcher = await connection(cleanup, server.clientUrl);
  });

  test("push, then get from another connection: same bytes, same digest", async () => {
    const bytes = await component("echo-1.0", 300 * 1024); // three chunks
    const info = await new ArtifactStore(pusher, "push-get").put(ref("echo:1.0"), bytes);
    assert.deepEqual({ ...info, pushedAt: "" }, { name: "echo", version: "1.0", digest: await digestOf(bytes), size: bytes.length, pushedAt: "" });
    assert.ok(Date.now() - Date.parse(info.pushedAt) < 60_000, info.pushedAt);

    const got = await new ArtifactStore(fetcher, "push-get").get(ref("echo:1.0"));
    assert.deepEqual(got.info, info);
    assert.deepEqual(got.bytes, bytes);
  });

  test("latest follows the newest push, and the next newest when that one is deleted", async () => {
    const store = new ArtifactStore(pusher, "latest");
    const reader = new ArtifactStore(fetcher, "latest");
    const v1 = await store.put(ref("echo:1.0"), await component("v1"));
    assert.equal((await reader.get(ref("echo"))).info.version, "1.0");
    const v2 = await store.put(ref("echo:2.0"), await component("v2"));
    const latest = await reader.get(ref("echo:latest"));
    assert.deepEqual(latest.info, v2, "latest resolves to the concrete version");
    assert.deepEqual(latest.bytes, await component("v2"));
    // Pushing an older version number again still makes it the latest: latest is the newest *push*.
    const v1again = await store.put(ref("echo:1.0"), await component("v1-fixed"));
    assert.deepEqual((await reader.get(ref("echo"))).info, v1again);
    assert.notEqual(v1again.digest, v1.digest);

    await store.delete(ref("echo:1.0"));
    assert.deepEqual((await reader.get(ref("echo"))).info, v2, "latest falls back to the newest remaining version");
    // Deleting latest removes the link only; the next push makes it again.
    await store.delete(ref("echo:latest"));
    await rejectsWith(reader.get(ref("echo")), ErrorCode.NotFound, "artifact echo:latest is not in lattice latest's artifact store");
    assert.deepEqual((await reader.get(ref("echo:2.0"))).info, v2);
    const v3 = await store.put(ref("echo:3.0"), await component("v3"));
    assert.deepEqual((await reader.get(ref("echo"))).info, v3);
    await store.delete(ref("echo:3.0"));
    assert.deepEqual((await reader.get(ref("echo"))).info, v2);
    await store.delete(ref("echo:2.0"));
    await rejectsWith(reader.get(ref("echo")), ErrorCode.NotFound, "artifact echo:latest is not in lattice latest's artifact store");
    assert.deepEqual(await reader.list(), []);
  });

  test("pushing the same bytes again sends nothing, and makes them latest again", async () => {
    const store = new ArtifactStore(pusher, "repush");
    const bytes = await component("same", 300 * 1024);
    const first = await store.put(ref("echo"), bytes);
    const other = await store.put(ref("echo:2.0"), await component("other"));
    assert.equal((await store.get(ref("echo"))).info.version, other.version);
    const again = await store.put(ref("echo"), bytes);
    assert.deepEqual(again, first, "the stored object, untouched: same version, digest and push time");
    assert.deepEqual(await store.get(ref("echo")), { info: first, bytes });
    // Other bytes under the same version still replace it.
    const changed = await store.put(ref("echo:2.0"), await component("other-fixed"));
    assert.notEqual(changed.digest, other.digest);
    assert.deepEqual((await store.get(ref("echo:2.0"))).info, changed);
  });

  test("a push without a version is stored under its digest, and becomes latest", async () => {
    const store = new ArtifactStore(pusher, "unversioned");
    const bytes = await component("unversioned");
    const digest = await digestOf(bytes);
    const info = await store.put(ref("echo"), bytes);
    assert.equal(info.version, `sha256-${digest.slice(7, 19)}`);
    assert.deepEqual((await store.get(ref("echo"))).info, info);
    assert.deepEqual((await store.get({ name: "echo", version: info.version })).info, info);
  });

  test("list: every version of every name, no latest links; empty for a lattice with no store", async () => {
    const store = new ArtifactStore(pusher, "listing");
    assert.deepEqual(await store.list(), []);
    const pushed: ArtifactInfo[] = [];
    for (const r of ["kv:0.1", "echo:1.0", "echo:1.1"]) pushed.push(await store.put(ref(r), await component(r)));
    const listed = await new ArtifactStore(fetcher, "listing").list();
    assert.deepEqual(
      listed.map((i) => `${i.name}:${i.version}`),
      ["echo:1.0", "echo:1.1", "kv:0.1"],
    );
    for (const p of pushed) assert.deepEqual(listed.find((i) => i.name === p.name && i.version === p.version), p);
    // Lattices do not see each other's artifacts.
    assert.deepEqual(await new ArtifactStore(fetcher, "listing-other").list(), []);
    assert.notEqual(artifactBucketName("listing"), artifactBucketName("listing-other"));
  });

  test("a missing name or version is not_found, with or without a bucket", async () => {
    await rejectsWith(new ArtifactStore(fetcher, "nothing-here").get(ref("echo:1.0")), ErrorCode.NotFound, "artifact echo:1.0 is not in lattice nothing-here's artifact store");
    const store = new ArtifactStore(pusher, "missing");
    await store.put(ref("echo:1.0"), await component("x"));
    await rejectsWith(store.get(ref("echo:1.1")), ErrorCode.NotFound, "artifact echo:1.1 is not in lattice missing's artifact store");
    await rejectsWith(store.get(ref("other")), ErrorCode.NotFound, "artifact other:latest is not in lattice missing's artifact store");
    await rejectsWith(store.delete(ref("other:1")), ErrorCode.NotFound, "artifact other:1 is not in lattice missing's artifact store");
  });

  test("refuses core modules and non-WebAssembly bytes, and stores nothing", async () => {
    const store = new ArtifactStore(pusher, "refused");
    await rejectsWith(store.put(ref("core:1"), await parse("(module)")), ErrorCode.BadRequest, /artifact core:1 is a core WebAssembly module, not a component/);
    await rejectsWith(store.put(ref("text:1"), new TextEncoder().encode("hello, not wasm")), ErrorCode.BadRequest, /artifact text:1 is not WebAssembly/);
    assert.deepEqual(await store.list(), []);
  });

  test("get refuses bytes that do not match the digest recorded at push time", async () => {
    const store = new ArtifactStore(pusher, "tamper");
    const good = await store.put(ref("echo:1.0"), await component("good"));
    // Overwrite the object through the object store API, keeping the recorded digest: the object
    // store's own checksum is then consistent, only the lattice's digest catches it.
    const os = await new Objm(pusher).open(artifactBucketName("tamper"));
    await os.putBlob({ name: "echo:1.0", metadata: { [DIGEST_METADATA_KEY]: good.digest } }, await component("evil"));
    const err = await rejectsWith(store.get(ref("echo:1.0")), ErrorCode.Internal, /^integrity check failed for artifact echo:1\.0 in lattice tamper: recorded sha256:[0-9a-f]{64} .* but the stored bytes are sha256:[0-9a-f]{64}/);
    assert.ok(err.message.includes(good.digest));
    await rejectsWith(store.get(ref("echo")), ErrorCode.Internal, /^integrity check failed for artifact echo:1\.0/);
    // An object without a recorded digest was not pushed by lattice.
    await os.putBlob({ name: "echo:2.0" }, await component("foreign"));
    await rejectsWith(store.get(ref("echo:2.0")), ErrorCode.Internal, /echo:2\.0 .* has no recorded digest/);
  });
});

describe("artifact store without JetStream", () => {
  const cleanup = new Cleanup();
  after(cleanup.run);

  test("every operation is unavailable, with a message that says how to fix it", async () => {
    const server = await natsServer(cleanup, {});
    const store = new ArtifactStore(await connection(cleanup, server.clientUrl), "nojs", { timeoutMs: 2_000 });
    const expected = /^JetStream is not enabled on this NATS \(start it with -js, or `lattice up` which enables it\)/;
    await rejectsWith(store.put(ref("echo:1.0"), await component("x")), ErrorCode.Unavailable, expected);
    await rejectsWith(store.get(ref("echo:1.0")), ErrorCode.Unavailable, expected);
    await rejectsWith(store.list(), ErrorCode.Unavailable, expected);
  });
});

describe("artifact store across leaf nodes", () => {
  const cleanup = new Cleanup();
  let hub: NatsServer;
  let leaf: NatsServer;
  let leaf2: NatsServer;
  after(cleanup.run);
  before(async () => {
    hub = await natsServer(cleanup, { jetstream: { domain: "hub" }, leafnodes: { port: 0 } });
    assert.ok(hub.leafUrl);
    // A leaf without JetStream, and a leaf of that leaf.
    leaf = await natsServer(cleanup, { leafnodes: { port: 0, remotes: [{ urls: [hub.leafUrl] }] } });
    assert.ok(leaf.leafUrl);
    leaf2 = await natsServer(cleanup, { leafnodes: { remotes: [{ urls: [leaf.leafUrl] }] } });
  });

  test("push on the hub, get through a leaf and a leaf of a leaf by the hub's domain", async () => {
    const bytes = await component("across", 200 * 1024);
    const pushed = await new ArtifactStore(await connection(cleanup, hub.clientUrl), "leafy").put(ref("echo:1.0"), bytes);
    for (const s of [leaf, leaf2]) {
      const store = new ArtifactStore(await connection(cleanup, s.clientUrl), "leafy", { domain: "hub", timeoutMs: 2_000 });
      // The leaf connections come up shortly after the servers do.
      const got = await until(() => store.get(ref("echo")), 15_000, `echo through ${s.clientUrl}`);
      assert.deepEqual(got.info, pushed);
      assert.deepEqual(got.bytes, bytes);
      assert.deepEqual(await store.list(), [pushed]);
    }
  });

  test("push through a leaf of a leaf, get on the hub", async () => {
    const store = new ArtifactStore(await connection(cleanup, leaf2.clientUrl), "leafy-up", { domain: "hub" });
    const bytes = await component("upward");
    const pushed = await until(() => store.put(ref("up:1"), bytes), 15_000, "a push through two leaf hops");
    const got = await new ArtifactStore(await connection(cleanup, hub.clientUrl), "leafy-up", { domain: "hub" }).get(ref("up:1"));
    assert.deepEqual(got.info, pushed);
    assert.deepEqual(got.bytes, bytes);
  });

  test("on a leaf, the hub's JetStream is unreachable without its domain, or with another one", async () => {
    const nc = await connection(cleanup, leaf.clientUrl);
    await until(() => new ArtifactStore(nc, "leafy", { domain: "hub" }).list(), 15_000, "the leaf connection");
    await rejectsWith(new ArtifactStore(nc, "leafy").get(ref("echo")), ErrorCode.Unavailable, /^JetStream is not enabled on this NATS/);
    await rejectsWith(
      new ArtifactStore(nc, "leafy", { domain: "elsewhere" }).get(ref("echo")),
      ErrorCode.Unavailable,
      /^JetStream domain "elsewhere" is not reachable from this NATS/,
    );
  });
});

describe("lattice push (CLI)", () => {
  const cleanup = new Cleanup();
  let dir: string;
  let natsUrl: string;
  let noJsUrl: string;
  after(cleanup.run);
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "lattice-push-test-"));
    cleanup.add(() => rm(dir, { recursive: true, force: true }));
    natsUrl = (await natsServer(cleanup, { jetstream: {} })).clientUrl;
    noJsUrl = (await natsServer(cleanup, {})).clientUrl;
    await writeFile(join(dir, "echo.wasm"), await component("cli", 1_200_000));
    await writeFile(join(dir, "core.wasm"), await parse("(module)"));
  });

  async function push(args: string[], url = natsUrl) {
    return runCli(["push", ...args, "--lattice", "cli-push"], { LATTICE_NATS_URL: url });
  }

  function oneErrorLine(stderr: string, text: RegExp): void {
    const lines = stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, stderr);
    assert.match(lines[0] ?? "", text);
  }

  test("pushes a component and prints what it stored", async () => {
    const r = await push([join(dir, "echo.wasm"), "--name", "echo:1.0"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^pushed echo:1\.0 \(sha256:[0-9a-f]{64}, 1\.2 MB\)\n$/);
    const json = await push([join(dir, "echo.wasm"), "--name", "echo:1.1", "-o", "json"]);
    assert.equal(json.code, 0, json.stderr);
    const info = JSON.parse(json.stdout) as ArtifactInfo;
    assert.equal(info.version, "1.1");
    assert.equal(info.size, 1_200_000 + 8 + 1 + 3 + 4);
  });

  test("each failure is one line on stderr and a non-zero exit", async () => {
    const missing = await push([join(dir, "nope.wasm"), "--name", "echo:1.0"]);
    assert.notEqual(missing.code, 0);
    oneErrorLine(missing.stderr, /^lattice: cannot read .*nope\.wasm: no such file$/);

    const core = await push([join(dir, "core.wasm"), "--name", "echo:1.0"]);
    assert.notEqual(core.code, 0);
    oneErrorLine(core.stderr, /^lattice: bad_request: .*core\.wasm is a core WebAssembly module, not a component/);

    const badRef = await push([join(dir, "echo.wasm"), "--name", "Echo!"]);
    assert.notEqual(badRef.code, 0);
    assert.match(badRef.stderr, /invalid artifact name "Echo!"/);

    const noJs = await push([join(dir, "echo.wasm"), "--name", "echo:1.0"], noJsUrl);
    assert.notEqual(noJs.code, 0);
    oneErrorLine(noJs.stderr, /^lattice: unavailable: JetStream is not enabled on this NATS/);
  });
});
