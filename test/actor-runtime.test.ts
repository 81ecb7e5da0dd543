/** The actor runtime alone (no NATS): compile once per digest, instances in workers, failures contained. */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { parse } from "@bytecodealliance/jco-transpile/wasm-tools";
import { NodeActorRuntime } from "../src/actor/node-runtime.js";
import type { ActorInstances, ImportForwarder } from "../src/actor/runtime.js";
import { silentLogger } from "../src/host/index.js";
import { withCustomSection } from "../src/actor/wasm-sections.js";
import { LatticeError } from "../src/protocol/index.js";
import { watCoreModule, watEcho, watNeedsImport } from "./kit/fixtures.js";
import { until } from "./kit/poll.js";

const ECHO = "acme:demo/echo";
const RELAY = "acme:demo/relay";
const soon = () => Date.now() + 5_000;

/**
 * `acme:demo/shapes`: `dist: func(p: point) -> u32` (a record) and `paint: func(c: color) -> u32`
 * (an enum), exported through a shim component that names the types, as wit-component does.
 */
const SHAPES_WAT = `(component
  (core module $m
    (func (export "dist") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
    (func (export "paint") (param i32) (result i32) (local.get 0)))
  (core instance $i (instantiate $m))
  (type $point (record (field "x" u32) (field "y" u32)))
  (type $color (enum "red" "green"))
  (func $dist (param "p" $point) (result u32) (canon lift (core func $i "dist")))
  (func $paint (param "c" $color) (result u32) (canon lift (core func $i "paint")))
  (component $shim
    (type $point (record (field "x" u32) (field "y" u32)))
    (import "import-type-point" (type $point-i (eq $point)))
    (type $color (enum "red" "green"))
    (import "import-type-color" (type $color-i (eq $color)))
    (import "import-func-dist" (func $f1 (param "p" $point-i) (result u32)))
    (import "import-func-paint" (func $f2 (param "c" $color-i) (result u32)))
    (export $pe "point" (type $point-i))
    (export $ce "color" (type $color-i))
    (export "dist" (func $f1) (func (param "p" $pe) (result u32)))
    (export "paint" (func $f2) (func (param "c" $ce) (result u32))))
  (instance $inst (instantiate $shim
    (with "import-func-dist" (func $dist))
    (with "import-func-paint" (func $paint))
    (with "import-type-point" (type $point))
    (with "import-type-color" (type $color))))
  (export "acme:demo/shapes" (instance $inst)))`;

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
    await until(() => echo.stats.replaced >= 1, 10_000, "the looping instance to be replaced");
    assert.equal(echo.size, 2);
  });

  it("names what is wrong with a call", async () => {
    assert.match(await code(echo.invoke({ iface: ECHO, fn: "nope", args: [], deadline: soon() })), /^not_found: actor echo exports no function acme:demo\/echo.nope/);
    assert.match(await code(echo.invoke({ iface: "acme:demo/other", fn: "echo", args: [], deadline: soon() })), /^not_found/);
    assert.match(await code(echo.invoke({ iface: ECHO, fn: "echo", args: [42], deadline: soon() })), /^bad_request: .*string/);
    assert.match(await code(echo.invoke({ iface: ECHO, fn: "echo", args: ["late"], deadline: Date.now() - 1 })), /^timeout/);
  });

  it("refuses a wrong number of arguments or a wrong type, naming the argument and its WIT type", async () => {
    const calls = echo.stats.calls;
    const bad = (fn: string, args: unknown[]) => code(echo.invoke({ iface: ECHO, fn, args, deadline: soon() }));
    assert.equal(await bad("echo", ["a", "b"]), "bad_request: acme:demo/echo.echo takes 1 argument (s: string), got 2");
    assert.equal(await bad("echo", []), "bad_request: acme:demo/echo.echo takes 1 argument (s: string), got 0");
    assert.equal(await bad("add", [1]), "bad_request: acme:demo/echo.add takes 2 arguments (a: u64, b: u64), got 1");
    assert.equal(await bad("spin", [1]), "bad_request: acme:demo/echo.spin takes no arguments, got 1");
    assert.equal(await bad("echo", [42]), "bad_request: argument 1 (s) of acme:demo/echo.echo must be a string (WIT string), got a number");
    assert.equal(await bad("add", [1, "2"]), "bad_request: argument 2 (b) of acme:demo/echo.add must be an integer from 0 to 18446744073709551615 (WIT u64), got a string");
    assert.equal(await bad("add", [-1, 2]), "bad_request: argument 1 (a) of acme:demo/echo.add must be an integer from 0 to 18446744073709551615 (WIT u64), got -1");
    assert.equal(await bad("add", [2n ** 64n, 2]), "bad_request: argument 1 (a) of acme:demo/echo.add must be an integer from 0 to 18446744073709551615 (WIT u64), got 18446744073709551616");
    // What fits is passed on as before: a u64 as a number or a BigInt.
    assert.equal(await echo.invoke({ iface: ECHO, fn: "add", args: [40, 2n], deadline: soon() }), 42n);
    assert.equal(echo.stats.calls, calls + 1, "no refused call was taken");
  });

  it("checks records and enums field by field, by their WIT names", async () => {
    const shapes = await runtime.start({ actorId: "shapes", digest: await runtime.prepare(await parse(SHAPES_WAT), "shapes.wasm"), instances: 1 });
    try {
      const call = (fn: string, args: unknown[]) => shapes.invoke({ iface: "acme:demo/shapes", fn, args, deadline: soon() });
      assert.equal(await call("dist", [{ x: 3, y: 4 }]), 7);
      assert.equal(await call("paint", ["green"]), 1);
      assert.equal(await code(call("dist", [{ x: 3, y: -4 }])), "bad_request: argument 1 (p) of acme:demo/shapes.dist: p.y must be an integer from 0 to 4294967295 (WIT u32), got -4");
      assert.equal(await code(call("dist", [[3, 4]])), "bad_request: argument 1 (p) of acme:demo/shapes.dist must be an object with fields x, y (WIT point), got a list of 2");
      assert.equal(await code(call("paint", ["blue"])), 'bad_request: argument 1 (c) of acme:demo/shapes.paint must be one of "red", "green" (WIT color), got "blue"');
    } finally {
      await shapes.stop();
    }
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

/** Resolves as `p` does, or rejects once `ms` pass without an answer. */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_r, reject) => (timer = setTimeout(() => reject(new Error(`no answer to ${what} within ${ms} ms`)), ms)));
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Keep this thread busy until `until` (epoch ms), as a loaded host's thread is. */
function busyUntil(until: number): void {
  while (Date.now() < until) Math.random();
}

describe("collecting garbage after a compile (the small profile)", () => {
  it("settles with a collection after a new compile, not after preparing one compiled before", async () => {
    let collected = 0;
    const runtime = new NodeActorRuntime(silentLogger, { blank: 0, digests: 0, collectGarbage: () => collected++ });
    try {
      const wat = await watEcho();
      const digest = await runtime.prepare(wat, "echo.wasm");
      assert.equal(collected, 0, "not while preparing: the caller still holds the bytes");
      runtime.settle();
      runtime.settle();
      assert.equal(collected, 1, "once per compile");
      await runtime.prepare(wat, "echo.wasm");
      runtime.settle();
      assert.equal(collected, 1, "the same digest again: nothing new to collect");
      await runtime.prepare(withCustomSection(wat, "variant", new TextEncoder().encode("1")), "other.wasm");
      runtime.settle();
      assert.equal(collected, 2);
      const echo = await runtime.start({ actorId: "echo", digest, instances: 1 });
      assert.equal(collected, 2, "starting collects nothing");
      await echo.stop();
    } finally {
      await runtime.close();
    }
  });
});

describe("nothing wedges an actor's instances", () => {
  const runtime = new NodeActorRuntime(silentLogger);
  let echoDigest: string;
  let relayDigest: string;
  const started: ActorInstances[] = [];
  const start = async (actorId: string, digest: string, forward?: ImportForwarder) => {
    const a = await runtime.start({ actorId, digest, instances: 1, forward });
    started.push(a);
    return a;
  };

  before(async () => {
    echoDigest = await runtime.prepare(await watEcho(), "echo.wasm");
    relayDigest = await runtime.prepare(await watNeedsImport(), "relay.wasm");
  });
  after(async () => {
    await Promise.all(started.map((a) => a.stop()));
    await runtime.close();
  });

  it("a host call answered after its call gave up does not answer the next call", async () => {
    let late = false;
    let calls = 0;
    const relay = await start("relay", relayDigest, (_actor, call) => {
      if (++calls > 1) return Promise.resolve(2);
      // The first answer comes after the call's deadline, as from a slow link target.
      return new Promise((resolve) =>
        setTimeout(() => {
          resolve(1);
          late = true;
        }, call.deadline + 200 - Date.now()),
      );
    });
    const deadline = Date.now() + 800;
    // The host thread is busy while the deadline passes, as on a loaded host: the instance's own
    // answer (its host call gave up) is read before the pool's deadline timer runs.
    setTimeout(() => busyUntil(deadline + 150), deadline - 150 - Date.now());
    const first = await code(relay.invoke({ iface: RELAY, fn: "call", args: [], deadline }));
    await until(() => late, 5_000, "the late answer to the first host call");
    assert.equal(await relay.invoke({ iface: RELAY, fn: "call", args: [], deadline: soon() }), 2, "the second call gets its own answer");
    assert.match(first, /^timeout: /);
  });

  it("an instance that finishes within the grace after its deadline keeps serving", async () => {
    let answer = false;
    const relay = await start("patient", relayDigest, () => (answer ? Promise.resolve(3) : new Promise<never>(() => undefined)));
    const before = relay.stats.replaced;
    // The host call never answers: the instance gives up on it at the deadline, and answers.
    assert.match(await code(relay.invoke({ iface: RELAY, fn: "call", args: [], deadline: Date.now() + 300 })), /^timeout: /);
    await until(() => relay.load().busy === 0, 5_000, "the instance to finish its call");
    answer = true;
    assert.equal(await relay.invoke({ iface: RELAY, fn: "call", args: [], deadline: soon() }), 3);
    assert.equal(relay.stats.replaced, before, "it was not replaced");
  });

  it("an instance still running past its deadline shows as stuck, then is replaced", async () => {
    const one = await start("stuck", echoDigest);
    const looping = code(one.invoke({ iface: ECHO, fn: "spin", args: [], deadline: Date.now() + 300 }));
    assert.deepEqual(one.load(), { busy: 1, queued: 0, stuck: 0 });
    assert.match(await looping, /^timeout: actor stuck did not answer acme:demo\/echo.spin before its deadline/);
    assert.deepEqual(one.load(), { busy: 1, queued: 0, stuck: 1 });
    await until(() => one.stats.replaced === 1 && one.load().busy === 0, 10_000, "the stuck instance to be replaced");
    assert.equal(await one.invoke({ iface: ECHO, fn: "echo", args: ["fresh"], deadline: soon() }), "fresh");
  });

  it("a call waiting for an instance is refused at its deadline, though no instance frees", async () => {
    const one = await start("busy", echoDigest);
    const looping = code(one.invoke({ iface: ECHO, fn: "spin", args: [], deadline: Date.now() + 3_000 }));
    const t = Date.now();
    const waiting = one.invoke({ iface: ECHO, fn: "echo", args: ["waiting"], deadline: t + 300 });
    assert.deepEqual(one.load(), { busy: 1, queued: 1, stuck: 0 });
    assert.match(await code(waiting), /^timeout: call to actor busy expired while waiting for an instance/);
    assert.ok(Date.now() - t < 1_500, `refused ${Date.now() - t} ms after it was made`);
    assert.equal(one.load().queued, 0);
    await looping;
  });

  it("calls posted to a worker together are each answered with their own result", async () => {
    const three = await runtime.start({ actorId: "together", digest: echoDigest, instances: 3 });
    started.push(three);
    const args = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i}`);
    // The first round times the calls; then the short ones leave in batches, several to a worker.
    for (const tag of ["warm", "a", "b", "c"]) {
      const want = args(30, tag);
      assert.deepEqual(await Promise.all(want.map((a) => three.invoke({ iface: ECHO, fn: "echo", args: [a], deadline: soon() }))), want);
    }
    assert.equal(three.stats.failed, 0);
  });

  it("a call posted behind one that turns out slow is taken back for a free instance", async () => {
    const two = await runtime.start({ actorId: "taken-back", digest: echoDigest, instances: 2 });
    started.push(two);
    // Short calls: from now on a call may be posted to a busy worker, behind the call it runs.
    await Promise.all(Array.from({ length: 30 }, (_, i) => two.invoke({ iface: ECHO, fn: "echo", args: [`w${i}`], deadline: soon() })));
    const now = Date.now();
    // Made together, the second goes behind the first in the first instance's worker.
    const looping = code(two.invoke({ iface: ECHO, fn: "spin", args: [], deadline: now + 3_000 }));
    const behind = two.invoke({ iface: ECHO, fn: "echo", args: ["behind"], deadline: now + 9_000 });
    assert.equal(await within(behind, 2_000, "the call posted behind the looping one"), "behind");
    assert.equal(two.load().busy, 1, "the looping call still runs");
    assert.match(await looping, /^timeout/);
  });

  it("a call posted behind one that gets stuck is served by the instance that replaces it", async () => {
    const one = await start("behind-stuck", echoDigest);
    await Promise.all(Array.from({ length: 20 }, (_, i) => one.invoke({ iface: ECHO, fn: "echo", args: [`w${i}`], deadline: soon() })));
    const now = Date.now();
    const looping = code(one.invoke({ iface: ECHO, fn: "spin", args: [], deadline: now + 300 }));
    const behind = one.invoke({ iface: ECHO, fn: "echo", args: ["after"], deadline: now + 9_000 });
    assert.equal(await within(behind, 8_000, "the call behind the stuck one"), "after");
    assert.equal(one.stats.replaced, 1);
    assert.match(await looping, /^timeout/);
  });

  it("a call queued behind one that expired is still served", async () => {
    const one = await start("queue", echoDigest);
    const now = Date.now();
    const looping = code(one.invoke({ iface: ECHO, fn: "spin", args: [], deadline: now + 500 }));
    const expiring = code(one.invoke({ iface: ECHO, fn: "echo", args: ["gone"], deadline: now + 200 }));
    const served = one.invoke({ iface: ECHO, fn: "echo", args: ["served"], deadline: now + 9_000 });
    assert.equal(await within(served, 8_000, "the call behind the expired one"), "served");
    assert.match(await expiring, /^timeout/);
    assert.match(await looping, /^timeout/);
  });
});
