/**
 * The SharedArrayBuffer transport of host calls (the browser's, actor/sab-bridge.ts), between
 * real threads: values as the lattice's codec carries them, replies larger than the buffer, errors
 * with their code and payload, and a reply that comes after its call gave up, which must not
 * answer the next call.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Worker, type TransferListItem } from "node:worker_threads";
import { createSabBridge } from "../src/actor/sab-bridge.js";
import type { HostCall } from "../src/actor/worker-protocol.js";
import { LatticeError } from "../src/protocol/index.js";
import { until } from "./kit/poll.js";

type Got = { ok: true; value: unknown } | { ok: false; code: string; message: string; payload?: unknown };

describe("the SharedArrayBuffer bridge", () => {
  let late = false;
  const bridge = createSabBridge(async (call: HostCall) => {
    switch (call.fn) {
      case "echo":
        return call.args[0];
      case "fail":
        throw Object.assign(new LatticeError("not_found", "no such key"), { payload: { tag: "no-such-store" } });
      case "slow":
        await new Promise((resolve) => setTimeout(resolve, 300));
        late = true;
        return "too late";
    }
    throw new Error(`no ${call.fn}`);
  });
  const worker = new Worker(new URL("./fixtures/sab-bridge-worker.js", import.meta.url), { workerData: bridge.worker, transferList: bridge.transfer as unknown as TransferListItem[] });
  after(async () => {
    bridge.close();
    await worker.terminate();
  });

  const call = (fn: string, args: unknown[] = [], timeoutMs = 5_000): Promise<Got> =>
    new Promise((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
      worker.postMessage({ call: { iface: "acme:test/host", fn, args, deadline: Date.now() + timeoutMs }, timeoutMs });
    });

  it("carries the values a component exchanges: u64, bytes, records, lists, none", async () => {
    const value = { n: 2n ** 63n + 5n, bytes: new Uint8Array([1, 2, 255]), list: ["a", { b: -1.5 }], none: null, resource: { $resource: "bucket", handle: 7 } };
    assert.deepEqual(await call("echo", [value]), { ok: true, value });
  });

  it("grows for a reply larger than its buffer, refuses one past its limit, and still serves small ones", async () => {
    const big = new Uint8Array(1024 * 1024).map((_, i) => i % 251);
    const got = await call("echo", [big]);
    assert.ok(got.ok);
    assert.deepEqual(got.value, big);
    assert.deepEqual(await call("echo", ["small"]), { ok: true, value: "small" });
    const huge = await call("echo", [new Uint8Array(17 * 1024 * 1024)]);
    assert.equal(huge.ok, false);
    assert.match((huge as { code: string; message: string }).code, /^payload_too_large$/);
    assert.deepEqual(await call("echo", ["after"]), { ok: true, value: "after" });
  });

  it("a failed host call keeps its code, message and payload", async () => {
    assert.deepEqual(await call("fail"), { ok: false, code: "not_found", message: "no such key", payload: { tag: "no-such-store" } });
  });

  it("a reply that comes after its call gave up does not answer the next call", async () => {
    const first = await call("slow", [], 100);
    assert.equal(first.ok, false);
    assert.match((first as { code: string }).code, /^timeout$/);
    await until(() => late, 5_000, "the late reply");
    assert.deepEqual(await call("echo", ["mine"]), { ok: true, value: "mine" });
  });
});
