/**
 * HTTP and messaging: wasi:http actors called with HttpRequest values, the built-in http-server
 * provider as a real process in front of them, and the built-in messaging provider delivering
 * NATS messages to an actor and publishing for it.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { fork, type ChildProcess } from "node:child_process";
import { request as httpRequest } from "node:http";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import type { NatsConnection } from "@nats-io/nats-core";
import { parse } from "@bytecodealliance/jco-transpile/wasm-tools";
import { LatticeClient } from "../src/ctl/index.js";
import type { Host } from "../src/host/index.js";
import { ArtifactStore } from "../src/nats/artifact-store.js";
import { LatticeState } from "../src/nats/lattice-state.js";
import { freePort, type NatsServer } from "../src/nats/node/index.js";
import { HTTP_HANDLE, HTTP_INCOMING_HANDLER, type HttpRequest, type HttpResponse } from "../src/protocol/http.js";
import { isLatticeError, parseArtifactRef } from "../src/protocol/index.js";
import type { ProviderIpc } from "../src/provider/index.js";
import { exampleComponent } from "./kit/fixtures.js";
import { runCli } from "./kit/cli.js";
import { Cleanup, connection, host, natsServer } from "./kit/lattice.js";
import { until } from "./kit/poll.js";

const text = new TextDecoder();
const bytes = (s: string) => new TextEncoder().encode(s);

function get(path: string): HttpRequest {
  return { method: "GET", pathWithQuery: path, scheme: "http", authority: "example.test", headers: [["accept", "text/plain"]], body: new Uint8Array() };
}

/**
 * A component exporting `wasi:http/incoming-handler` whose `handle` runs `body` (core WAT, with
 * the two resource handles as its parameters): a trap, a loop, or returning without a response.
 */
function httpWat(body: string): Promise<Uint8Array> {
  return parse(`(component
  (import "wasi:http/types@0.2.0" (instance $types
    (export "incoming-request" (type (sub resource)))
    (export "response-outparam" (type (sub resource)))))
  (alias export $types "incoming-request" (type $req))
  (alias export $types "response-outparam" (type $out))
  (core module $m (func (export "handle") (param i32 i32) ${body}))
  (core instance $i (instantiate $m))
  (func $handle (param "request" (own $req)) (param "response-out" (own $out)) (canon lift (core func $i "handle")))
  (instance $inst (export "handle" (func $handle)))
  (export "wasi:http/incoming-handler@0.2.0" (instance $inst)))`);
}

interface ProviderProcess {
  child: ChildProcess;
  health?: { healthy: boolean; message: string };
}

/** A built-in provider as its own process, the way a host starts one (env + IPC). */
async function startProvider(cleanup: Cleanup, module: "http-server" | "messaging", id: string, natsUrl: string): Promise<ProviderProcess> {
  const path = fileURLToPath(new URL(`../src/provider/builtin/${module}.js`, import.meta.url));
  const child = fork(path, [], {
    env: { ...process.env, LATTICE_NATS_URL: natsUrl, LATTICE_NAME: "default", LATTICE_PROVIDER_ID: id, LATTICE_LOG_LEVEL: "error" },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  cleanup.add(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  const p: ProviderProcess = { child };
  await new Promise<void>((resolve, reject) => {
    child.on("message", (m: ProviderIpc) => {
      if (m.type === "ready") resolve();
      else if (m.type === "health") p.health = { healthy: m.healthy, message: m.message };
    });
    child.once("exit", (code) => reject(new Error(`provider ${module} exited with ${code}`)));
  });
  return p;
}

async function fetchText(url: string, init?: RequestInit): Promise<{ status: number; body: string; headers: Headers }> {
  const r = await fetch(url, { ...init, signal: AbortSignal.timeout(15_000) });
  return { status: r.status, body: await r.text(), headers: r.headers };
}

/** Resolves true once nothing accepts connections at the URL. */
async function refused(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(2_000) });
    return false;
  } catch (e) {
    return /ECONNREFUSED/.test(String((e as Error).cause ?? e));
  }
}

describe("HTTP actors, the http-server and messaging providers", () => {
  const cleanup = new Cleanup();
  let nats: NatsServer;
  let a: Host;
  let nc: NatsConnection;
  let client: LatticeClient;
  let state: LatticeState;

  async function startActor(id: string, name: string, component: Uint8Array): Promise<void> {
    await new ArtifactStore(nc, "default").put(parseArtifactRef(`${name}:1.0`), component);
    const placed = await client.startActor({ actorId: id, ref: `${name}:1.0`, instances: 1, hostId: a.id });
    assert.deepEqual(placed.errors, []);
  }

  async function callError(target: string, req: HttpRequest, timeoutMs = 10_000): Promise<{ code: string; message: string; ms: number }> {
    const t = Date.now();
    try {
      await client.call(target, HTTP_INCOMING_HANDLER, HTTP_HANDLE, [req], { timeoutMs });
    } catch (e) {
      assert.ok(isLatticeError(e), String(e));
      return { code: e.code, message: e.message, ms: Date.now() - t };
    }
    assert.fail(`the call to ${target} succeeded`);
  }

  before(async () => {
    nats = await natsServer(cleanup, { jetstream: {} });
    a = await host(cleanup, nats.clientUrl, { name: "a" });
    nc = await connection(cleanup, nats.clientUrl);
    client = new LatticeClient(nc, "default");
    state = new LatticeState(nc, "default");
    await startActor("hello", "hello", await exampleComponent("http-hello"));
    await startActor("http-trap", "http-trap", await httpWat("unreachable"));
    await startActor("http-spin", "http-spin", await httpWat("(loop $l (br $l))"));
    await startActor("http-silent", "http-silent", await httpWat(""));
    await startActor("http-echo", "http-echo", await exampleComponent("http-echo"));
  });
  after(cleanup.run);

  describe("calling a wasi:http actor with an HttpRequest value", () => {
    it("answers the http-hello example's response, request after request", async () => {
      for (const path of ["/x", "/x?y=1", "/other"]) {
        const r = (await client.call("hello", HTTP_INCOMING_HANDLER, HTTP_HANDLE, [get(path)])) as HttpResponse;
        assert.equal(r.status, 200);
        assert.ok(r.body instanceof Uint8Array);
        assert.equal(text.decode(r.body), `hello from lattice: GET ${path.split("?")[0]}\n`);
        assert.deepEqual(
          r.headers.filter(([n]) => n === "content-type"),
          [["content-type", "text/plain; charset=utf-8"]],
        );
      }
      const post = (await client.call("hello", "wasi:http/incoming-handler@0.2.10", "handle", [{ ...get("/p"), method: "POST", body: bytes("payload") }])) as HttpResponse;
      assert.equal(text.decode(post.body), "hello from lattice: POST /p\n");
    });

    it("gives the guest the request's method, URL, headers and body, and keeps repeated response headers", async () => {
      const req: HttpRequest = {
        method: "PUT",
        pathWithQuery: "/e?q=1",
        scheme: "https",
        authority: "api.example:8443",
        headers: [
          ["x-test", "yes"],
          ["connection", "close"],
        ],
        body: bytes("the body"),
      };
      const r = (await client.call("http-echo", HTTP_INCOMING_HANDLER, HTTP_HANDLE, [req])) as HttpResponse;
      assert.equal(r.status, 201);
      assert.equal(text.decode(r.body), "PUT https://api.example:8443/e?q=1\nyes\nthe body");
      assert.deepEqual(
        r.headers.filter(([n]) => n === "set-cookie").map(([, v]) => v),
        ["a=1", "b=2"],
      );
    });

    it("fails a response too big to carry with payload_too_large, at once", async () => {
      for (const n of [2_000_000, 9_000_000]) {
        const e = await callError("http-echo", get(`/big?n=${n}`));
        assert.equal(e.code, "payload_too_large", e.message);
        assert.ok(e.ms < 5_000, `took ${e.ms} ms`);
      }
      const ok = (await client.call("http-echo", HTTP_INCOMING_HANDLER, HTTP_HANDLE, [get("/big?n=500000")])) as HttpResponse;
      assert.equal(ok.body.length, 500_000);
    });

    it("can be called from the CLI, with no bytes to give", async () => {
      const r = await runCli(["call", "hello", "wasi:http/incoming-handler.handle", '[{"method":"GET","pathWithQuery":"/cli"}]'], { LATTICE_NATS_URL: nats.clientUrl });
      assert.equal(r.code, 0, r.stderr);
      const res = JSON.parse(r.stdout) as { status: number; body: string };
      assert.equal(res.status, 200);
      assert.equal(Buffer.from(res.body, "base64").toString(), "hello from lattice: GET /cli\n");
    });

    it("refuses an argument that is not an HttpRequest", async () => {
      const e = await callError("hello", { ...get("/x"), method: "NOT A METHOD" });
      assert.equal(e.code, "bad_request");
      assert.match(e.message, /HttpRequest/);
    });

    it("ends a trapping handler's call with trap, and the actor keeps answering", async () => {
      for (let i = 0; i < 2; i++) {
        const e = await callError("http-trap", get("/"));
        assert.equal(e.code, "trap", e.message);
      }
      const r = (await client.call("hello", HTTP_INCOMING_HANDLER, HTTP_HANDLE, [get("/still")])) as HttpResponse;
      assert.equal(r.status, 200);
    });

    it("fails at once when the handler returns without a response", async () => {
      const e = await callError("http-silent", get("/"));
      assert.equal(e.code, "trap");
      assert.match(e.message, /without setting a response/);
      assert.ok(e.ms < 5_000, `took ${e.ms} ms`);
    });

    it("stops a looping handler at the deadline", async () => {
      const e = await callError("http-spin", get("/"), 500);
      assert.equal(e.code, "timeout");
    });
  });

  describe("the http-server provider", () => {
    let http: ProviderProcess;
    let port: number;

    before(async () => {
      http = await startProvider(cleanup, "http-server", "http", nats.clientUrl);
      port = await freePort();
      await state.putConfig("http-cfg", { address: `127.0.0.1:${port}` });
      await state.putLink({ source: "http", target: "hello", interface: "wasi:http/incoming-handler", name: "default", config: ["http-cfg"] });
    });

    it("serves the linked actor over real HTTP", async () => {
      const r = await until(async () => {
        const r = await fetchText(`http://127.0.0.1:${port}/x?q=1`);
        return r.status === 200 && r;
      }, 20_000, "the provider to serve the link");
      assert.equal(r.body, "hello from lattice: GET /x\n");
      assert.equal(r.headers.get("content-type"), "text/plain; charset=utf-8");
      const post = await fetchText(`http://127.0.0.1:${port}/form`, { method: "POST", body: "a=1" });
      assert.equal(post.body, "hello from lattice: POST /form\n");
      assert.equal(http.health?.healthy, true);
    });

    it("passes request bodies and headers both ways", async () => {
      const p = await freePort();
      await state.putConfig("echo-cfg", { address: `127.0.0.1:${p}` });
      await state.putLink({ source: "http", target: "http-echo", interface: "wasi:http/incoming-handler", name: "echo", config: ["echo-cfg"] });
      const r = await until(async () => {
        const r = await fetch(`http://127.0.0.1:${p}/e?x=1`, { method: "POST", body: "posted", headers: { "x-test": "hdr" } });
        return r.status === 201 && r;
      }, 20_000, "the echo link to serve");
      assert.equal(await r.text(), `POST http://127.0.0.1:${p}/e?x=1\nhdr\nposted`);
      assert.deepEqual(r.headers.getSetCookie(), ["a=1", "b=2"]);
      const big = await fetchText(`http://127.0.0.1:${p}/big?n=2000000`);
      assert.equal(big.status, 502);
      assert.match(big.body, /invocation limit/);
    });

    it("moves the listener when the link's address changes", async () => {
      const moved = await freePort();
      await state.putConfig("http-cfg", { address: `127.0.0.1:${moved}` });
      await until(async () => (await fetchText(`http://127.0.0.1:${moved}/x`)).status === 200, 20_000, "the new address to serve");
      await until(() => refused(`http://127.0.0.1:${port}/x`), 20_000, "the old address to close");
      port = moved;
    });

    it("answers 413 for a body over max_body", async () => {
      await state.putConfig("http-cfg", { address: `127.0.0.1:${port}`, max_body: "1k" });
      await until(async () => (await fetchText(`http://127.0.0.1:${port}/big`, { method: "POST", body: "x".repeat(2048) })).status === 413, 10_000, "413");
      assert.equal((await fetchText(`http://127.0.0.1:${port}/small`, { method: "POST", body: "x".repeat(512) })).status, 200);
      // Chunked, with no length announced: cut off once it grows over the limit.
      const chunked = await new Promise<{ status?: number; body: string }>((resolve, reject) => {
        const req = httpRequest({ host: "127.0.0.1", port, method: "POST", path: "/chunked" }, (res) => {
          let body = "";
          res.setEncoding("utf8").on("data", (c: string) => (body += c));
          res.on("end", () => resolve({ status: res.statusCode, body }));
        });
        req.on("error", reject);
        req.write("x".repeat(800));
        setTimeout(() => req.end("x".repeat(800)), 50);
      });
      assert.equal(chunked.status, 413);
      assert.match(chunked.body, /over 1024 bytes/);
    });

    it("answers 502 when no instance of the actor answers, 504 past the timeout, 500 for a trap", async () => {
      const cases: Array<{ name: string; target: string; status: number; values: Record<string, string> }> = [
        { name: "ghost", target: "ghost", status: 502, values: {} },
        { name: "slow", target: "http-spin", status: 504, values: { timeout: "300ms" } },
        { name: "trap", target: "http-trap", status: 500, values: {} },
      ];
      for (const c of cases) {
        const p = await freePort();
        await state.putConfig(`${c.name}-cfg`, { address: `127.0.0.1:${p}`, ...c.values });
        await state.putLink({ source: "http", target: c.target, interface: "wasi:http", name: c.name, config: [`${c.name}-cfg`] });
        const r = await until(async () => {
          const r = await fetchText(`http://127.0.0.1:${p}/`);
          return r.status === c.status && r;
        }, 20_000, `${c.status} from link ${c.name}`);
        assert.match(r.body, /^[a-z ]+: .+\n$/);
        assert.equal(r.headers.get("content-type"), "text/plain; charset=utf-8");
      }
    });

    it("reports a listener it cannot bind as unhealthy, and binds once the port is free", async () => {
      const blocker = createServer();
      const busy = await freePort();
      await new Promise<void>((resolve) => blocker.listen(busy, "127.0.0.1", resolve));
      try {
        await state.putConfig("busy-cfg", { address: `127.0.0.1:${busy}` });
        await state.putLink({ source: "http", target: "hello", interface: "wasi:http/incoming-handler", name: "busy", config: ["busy-cfg"] });
        await until(() => http.health?.healthy === false, 20_000, "unhealthy");
        assert.match(http.health?.message ?? "", /busy.*EADDRINUSE/);
      } finally {
        await new Promise((r) => blocker.close(r));
      }
      await until(async () => (await fetchText(`http://127.0.0.1:${busy}/x`)).status === 200, 20_000, "the freed port to serve");
      await until(() => http.health?.healthy === true, 10_000, "healthy again");
    });

    it("closes the listener of a deleted link, and answers 502 once the actor stops", async () => {
      const busyPort = (await state.getConfig("busy-cfg"))?.values.address ?? "";
      assert.ok(await state.deleteLink("http", "wasi:http/incoming-handler", "busy"));
      await until(() => refused(`http://${busyPort}/x`), 20_000, "the deleted link's listener to close");

      assert.equal(await client.stopActor("hello"), 1);
      const r = await fetchText(`http://127.0.0.1:${port}/x`);
      assert.equal(r.status, 502);
      assert.match(r.body, /no instance of hello/);
    });
  });

  describe("the messaging provider", () => {
    let messaging: ProviderProcess;
    const CONSUMER = "wasmcloud:messaging/consumer";

    before(async () => {
      messaging = await startProvider(cleanup, "messaging", "messaging", nats.clientUrl);
    });

    it("publishes and requests for its callers", async () => {
      const sub = nc.subscribe("app.direct", { max: 1 });
      await nc.flush();
      assert.equal(await client.call("messaging", CONSUMER, "publish", [{ subject: "app.direct", body: bytes("one"), replyTo: null }]), null);
      for await (const m of sub) assert.equal(m.string(), "one");

      const svc = nc.subscribe("app.svc", { callback: (_e, m) => void m.respond(bytes(`pong ${m.string()}`)) });
      await nc.flush();
      const reply = (await client.call("messaging", CONSUMER, "request", ["app.svc", bytes("ping"), 2_000])) as { subject: string; body: Uint8Array };
      assert.equal(text.decode(reply.body), "pong ping");
      svc.unsubscribe();

      const none = await client.call("messaging", CONSUMER, "request", ["app.nobody", bytes("?"), 500]).catch((e: unknown) => e);
      assert.ok(isLatticeError(none));
      assert.equal(none.code, "guest_error");
      assert.match(String(none.payload), /app\.nobody: no responders/);
    });

    it("refuses the lattice's own subjects", async () => {
      for (const subject of ["lattice.default.ctl.v1.ping", "$JS.API.INFO"]) {
        const e = await client.call("messaging", CONSUMER, "publish", [{ subject, body: bytes("x"), replyTo: null }]).catch((e: unknown) => e);
        assert.ok(isLatticeError(e));
        assert.equal(e.code, "guest_error");
        assert.match(String(e.payload), /reserved/);
      }
    });

    it("delivers subscribed messages to an actor, which answers through the provider", async () => {
      await startActor("mecho", "messaging-echo", await exampleComponent("messaging-echo"));
      await state.putConfig("mecho-subs", { subscriptions: "demo.echo, demo.other" });
      await state.putLink({ source: "messaging", target: "mecho", interface: "wasmcloud:messaging/handler", name: "default", config: ["mecho-subs"] });
      await state.putLink({ source: "mecho", target: "messaging", interface: "wasmcloud:messaging", name: "default", config: [] });
      const reply = await until(async () => {
        try {
          return (await nc.request("demo.echo", bytes("hi"), { timeout: 2_000 })).string();
        } catch {
          return undefined;
        }
      }, 30_000, "an echo through the actor");
      assert.equal(reply, "echo: hi");
      assert.equal((await nc.request("demo.other", bytes("again"), { timeout: 5_000 })).string(), "echo: again");
      assert.equal(messaging.health?.healthy, true);
    });

    it("reports a subscription on a reserved subject as unhealthy", async () => {
      await state.putConfig("bad-subs", { subscriptions: "lattice.>" });
      await state.putLink({ source: "messaging", target: "mecho", interface: "wasmcloud:messaging/handler", name: "bad", config: ["bad-subs"] });
      await until(() => messaging.health?.healthy === false, 20_000, "unhealthy");
      assert.match(messaging.health?.message ?? "", /reserved/);
      await state.deleteLink("messaging", "wasmcloud:messaging/handler", "bad");
      await until(() => messaging.health?.healthy === true, 20_000, "healthy again");
    });
  });
});
