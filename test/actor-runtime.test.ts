/** The actor runtime alone (no NATS): compile once per digest, instances in workers, failures contained. */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { NodeActorRuntime } from "../src/actor/node-runtime.js";
import type { ActorInstances } from "../src/actor/runtime.js";
import { silentLogger } from "../src/host/index.js";
import { LatticeError } from "../src/protocol/index.js";
import { watCoreModule, watEcho, watNeedsImport } from "./kit/fixtures.js";

const ECHO = "acme:demo/echo";
const soon = () => Date.now() + 5_000;

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof LatticeError) return `${e.code}: ${e.message}`;
    throw e;
  }
  return "no error";
}

describe("actor runtime", () => {
  const runtime = new NodeActorRuntime(silentLogger);
  let echo: ActorInstances;
  let digest: string;

  before(async () => {
    digest = await runtime.prepare(await watEcho(), "echo.wasm");
    echo = await runtime.start({ actorId: "echo", digest, instances: 2 });
  });
  after(async () => {
    await echo.stop();
    await runtime.close();
  });

  it("compiles a component once per digest", async () => {
    assert.match(digest, /^sha256:[0-9a-f]{64}$/);
    assert.ok(runtime.has(digest));
    assert.equal(await runtime.prepare(await watEcho(), "again.wasm"), digest);
  });

  it("calls exported functions with component values", async () => {
    assert.equal(await echo.invoke({ iface: ECHO, fn: "echo", args: ["hello"], deadline: soon() }), "hello");
    assert.equal(await echo.invoke({ iface: ECHO, fn: "add", args: [2n ** 63n, 5n], deadline: soon() }), 2n ** 63n + 5n);
    const big = "x".repeat(200_000);
    assert.equal(await echo.invoke({ iface: ECHO, fn: "echo", args: [big], deadline: soon() }), big);
  });

  it("a trap fails that call only; the next call succeeds", async () => {
    const before = echo.stats.traps;
    assert.match(await code(echo.invoke({ iface: ECHO, fn: "trap", args: [], deadline: soon() })), /^trap: actor echo trapped: .*unreachable/);
    assert.equal(echo.stats.traps, before + 1);
    for (let i = 0; i < 4; i++) assert.equal(await echo.invoke({ iface: ECHO, fn: "echo", args: [`after ${i}`], deadline: soon() }), `after ${i}`);
  });

  it("a looping call is stopped at its deadline; other calls go on meanwhile", async () => {
    const looping = code(echo.invoke({ iface: ECHO, fn: "spin", args: [], deadline: Date.now() + 1_000 }));
    // The other instance keeps serving while one spins.
    assert.equal(await echo.invoke({ iface: ECHO, fn: "echo", args: ["meanwhile"], deadline: soon() }), "meanwhile");
    assert.match(await looping, /^timeout: .*did not answer acme:demo\/echo.spin before its deadline/);
    assert.equal(await echo.invoke({ iface: ECHO, fn: "echo", args: ["after spin"], deadline: soon() }), "after spin");
    assert.ok(echo.stats.replaced >= 1);
    assert.equal(echo.size, 2);
  });

  it("names what is wrong with a call", async () => {
    assert.match(await code(echo.invoke({ iface: ECHO, fn: "nope", args: [], deadline: soon() })), /^not_found: actor echo exports no function acme:demo\/echo.nope/);
    assert.match(await code(echo.invoke({ iface: "acme:demo/other", fn: "echo", args: [], deadline: soon() })), /^not_found/);
    assert.match(await code(echo.invoke({ iface: ECHO, fn: "echo", args: [42], deadline: soon() })), /^bad_request: .*string/);
    assert.match(await code(echo.invoke({ iface: ECHO, fn: "echo", args: ["late"], deadline: Date.now() - 1 })), /^timeout/);
  });

  it("scales up and down", async () => {
    await echo.scale(3);
    assert.equal(echo.size, 3);
    const all = await Promise.all(Array.from({ length: 30 }, (_, i) => echo.invoke({ iface: ECHO, fn: "echo", args: [`${i}`], deadline: soon() })));
    assert.deepEqual(all, Array.from({ length: 30 }, (_, i) => `${i}`));
    await echo.scale(2);
    assert.equal(echo.size, 2);
  });

  it("refuses what it cannot run, saying why", async () => {
    assert.match(await code(runtime.prepare(new TextEncoder().encode("hello world, not wasm"), "junk.bin")), /^bad_request: junk.bin is not WebAssembly/);
    assert.match(await code(runtime.prepare(await watCoreModule(), "core.wasm")), /^bad_request: core.wasm is a core WebAssembly module, not a component/);
    const truncated = (await watEcho()).slice(0, 40);
    assert.match(await code(runtime.prepare(truncated, "cut.wasm")), /^bad_request: cut.wasm is not a valid component/);
    const needs = await runtime.prepare(await watNeedsImport(), "needs.wasm");
    assert.match(await code(runtime.start({ actorId: "needy", digest: needs, instances: 1 })), /^bad_request: actor needy imports acme:nowhere\/thing, which this host cannot serve/);
  });
});
