/**
 * Tracing across a lattice of four hosts, host B on a leaf node: an HTTP request with a
 * `traceparent` header goes to the http-server provider on host A (its own process), to the
 * http-counter actor on host B, and through its key-value link to the keyvalue provider on host C
 * (its own process). Hosts run in this process and record spans with the SDK's in-memory
 * exporter; the provider processes are switched on by OTEL_* environment, the way an operator
 * does it, and export OTLP/HTTP JSON to a small receiver here. Off (host D's http-server provider
 * has no OTEL_* and this process records nothing), the caller's traceparent reaches the far end
 * unchanged.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { gunzipSync } from "node:zlib";
import * as otelApi from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from "@opentelemetry/sdk-trace";
import type { NatsConnection } from "@nats-io/nats-core";
import { LatticeClient } from "../src/ctl/index.js";
import type { Host } from "../src/host/index.js";
import { ArtifactStore } from "../src/nats/artifact-store.js";
import { InvocationServer, invoke, type IncomingCall } from "../src/nats/invocations.js";
import { LatticeState } from "../src/nats/lattice-state.js";
import { freePort } from "../src/nats/node/index.js";
import { tracesExporters } from "../src/nats/node/tracing-setup.js";
import { disableTracing, enableTracing, formatTraceparent, parseTraceparent, tracingOn } from "../src/nats/tracing.js";
import { HTTP_HANDLE, HTTP_INCOMING_HANDLER } from "../src/protocol/http.js";
import { ErrorCode, LatticeError, Subjects, parseArtifactRef } from "../src/protocol/index.js";
import { NodeProviderLauncher } from "../src/provider/node-launcher.js";
import { exampleComponent } from "./kit/fixtures.js";
import { Cleanup, connection, host } from "./kit/lattice.js";
import { until } from "./kit/poll.js";
import { HUB_DOMAIN, topology } from "./kit/topology.js";

/** One span, from either source, in the few words the test needs. */
interface SeenSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: "server" | "client" | "other";
  attributes: Record<string, unknown>;
  /** service.name of the process that made it. */
  service: string;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: number | string;
  boolValue?: boolean;
  doubleValue?: number;
}
interface OtlpAttribute {
  key: string;
  value: OtlpValue;
}
interface OtlpRequest {
  resourceSpans?: Array<{
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans?: Array<{ spans?: Array<{ traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number; attributes?: OtlpAttribute[] }> }>;
  }>;
}

function otlpAttributes(list: OtlpAttribute[] = []): Record<string, unknown> {
  return Object.fromEntries(list.map((a) => [a.key, a.value.stringValue ?? (a.value.intValue !== undefined ? Number(a.value.intValue) : (a.value.boolValue ?? a.value.doubleValue))]));
}

/** An OTLP/HTTP JSON trace receiver: what a collector is to the provider processes. */
class OtlpReceiver {
  readonly spans: SeenSpan[] = [];
  /** Requests it could not read: any makes the test fail. */
  readonly bad: string[] = [];
  private server?: Server;

  async start(port: number): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        try {
          let body = Buffer.concat(chunks);
          if (req.headers["content-encoding"] === "gzip") body = gunzipSync(body);
          if (req.url !== "/v1/traces" || !String(req.headers["content-type"]).startsWith("application/json")) throw new Error(`${req.method} ${req.url} ${req.headers["content-type"]}`);
          this.add(JSON.parse(body.toString("utf8")) as OtlpRequest);
          res.writeHead(200, { "content-type": "application/json" }).end("{}");
        } catch (e) {
          this.bad.push(String(e));
          res.writeHead(400).end();
        }
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, "127.0.0.1", resolve));
  }

  private add(r: OtlpRequest): void {
    for (const rs of r.resourceSpans ?? []) {
      const service = String(otlpAttributes(rs.resource?.attributes)["service.name"]);
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          // OTLP's SpanKind: 2 server, 3 client.
          const kind = s.kind === 2 ? "server" : s.kind === 3 ? "client" : "other";
          this.spans.push({ traceId: s.traceId, spanId: s.spanId, ...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}), name: s.name, kind, attributes: otlpAttributes(s.attributes), service });
        }
      }
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

function fromMemory(s: ReadableSpan): SeenSpan {
  const kind = s.kind === otelApi.SpanKind.SERVER ? "server" : s.kind === otelApi.SpanKind.CLIENT ? "client" : "other";
  const parent = s.parentSpanContext?.spanId;
  return { traceId: s.spanContext().traceId, spanId: s.spanContext().spanId, ...(parent ? { parentSpanId: parent } : {}), name: s.name, kind, attributes: { ...s.attributes }, service: String(s.resource.attributes["service.name"]) };
}

const hex = (bytes: number) => Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("hex");

describe("traceparent and OTEL_* settings", () => {
  it("parses a W3C traceparent, and refuses what is not one", () => {
    const id = `${hex(16)}`;
    assert.deepEqual(parseTraceparent(`00-${id}-00f067aa0ba902b7-01`), { traceId: id, spanId: "00f067aa0ba902b7", traceFlags: 1, isRemote: true });
    assert.equal(formatTraceparent(parseTraceparent(`00-${id}-00f067aa0ba902b7-03`)!), `00-${id}-00f067aa0ba902b7-01`);
    // A later version may add fields: they are ignored. Version 00 may not; ff is invalid.
    assert.equal(parseTraceparent(`01-${id}-00f067aa0ba902b7-01-more`)?.traceId, id);
    for (const bad of [`00-${id}-00f067aa0ba902b7-01-more`, `ff-${id}-00f067aa0ba902b7-01`, `00-${"0".repeat(32)}-00f067aa0ba902b7-01`, `00-${id}-${"0".repeat(16)}-01`, `00-${id.toUpperCase()}-00f067aa0ba902b7-01`, "", undefined]) {
      assert.equal(parseTraceparent(bad), undefined, String(bad));
    }
  });

  it("switches tracing on only when the environment asks, and refuses what lattice cannot export", () => {
    assert.deepEqual(tracesExporters({}), []);
    assert.deepEqual(tracesExporters({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" }), ["otlp"]);
    assert.deepEqual(tracesExporters({ OTEL_TRACES_EXPORTER: "otlp,console" }), ["otlp", "console"]);
    assert.deepEqual(tracesExporters({ OTEL_TRACES_EXPORTER: "none", OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" }), []);
    assert.deepEqual(tracesExporters({ OTEL_SDK_DISABLED: "true", OTEL_TRACES_EXPORTER: "otlp" }), []);
    assert.throws(() => tracesExporters({ OTEL_TRACES_EXPORTER: "zipkin" }), /zipkin/);
  });
});

describe("tracing: one request's spans across hosts, leaf nodes and provider processes", () => {
  const cleanup = new Cleanup();
  const receiver = new OtlpReceiver();
  const memory = new InMemorySpanExporter();
  let nc: NatsConnection;
  let hosts: Record<"a" | "b" | "c" | "d", Host>;
  /** What the key-value spy (host D's actor's link target) was sent, in order. */
  const spied: IncomingCall[] = [];
  let tracedUrl = "";
  let plainUrl = "";

  before(async () => {
    const otlpPort = await freePort();
    await receiver.start(otlpPort);
    cleanup.add(() => receiver.close());
    // How an operator switches a host's providers' tracing on: OTEL_* in the host's environment.
    const traced = new NodeProviderLauncher({
      logLevel: "warn",
      env: { OTEL_TRACES_EXPORTER: "otlp", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${otlpPort}/v1/traces`, OTEL_BSP_SCHEDULE_DELAY: "50" },
    });
    const topo = await topology(cleanup, { hub: 1, leaves: { edge: {} } });
    hosts = {
      a: await host(cleanup, topo.url("hub"), { name: "a", jsDomain: HUB_DOMAIN, providers: traced }),
      b: await host(cleanup, topo.url("edge"), { name: "b", jsDomain: HUB_DOMAIN }),
      c: await host(cleanup, topo.url("hub"), { name: "c", jsDomain: HUB_DOMAIN, providers: traced }),
      d: await host(cleanup, topo.url("hub"), { name: "d", jsDomain: HUB_DOMAIN }),
    };
    nc = await connection(cleanup, topo.url("hub"));
    const client = new LatticeClient(nc, "default");
    const state = new LatticeState(nc, "default", { domain: HUB_DOMAIN });

    // The spy: a key-value target that records what it is sent and refuses it.
    const spy = new InvocationServer(nc, new Subjects("default"), "kv-spy", (call) => {
      spied.push(call);
      // Not `unavailable`: that would send the call again.
      return Promise.reject(new LatticeError(ErrorCode.BadRequest, "a spy, not a store"));
    }, { instances: 1, responder: "spy", defaultTimeoutMs: 5_000 });
    cleanup.add(() => spy.stop());

    await new ArtifactStore(nc, "default", { domain: HUB_DOMAIN }).put(parseArtifactRef("http-counter:1.0"), await exampleComponent("http-counter"));
    for (const id of ["counter", "counter-plain"]) {
      const placed = await client.startActor({ actorId: id, ref: "http-counter:1.0", instances: 1, hostId: hosts.b.id });
      assert.deepEqual(placed.errors, []);
    }
    await client.startProviderOn(hosts.a.id, { providerId: "http", ref: "http-server" });
    await client.startProviderOn(hosts.c.id, { providerId: "kv", ref: "keyvalue" });
    await client.startProviderOn(hosts.d.id, { providerId: "http-plain", ref: "http-server" });
    const [tracedPort, plainPort] = [await freePort(), await freePort()];
    tracedUrl = `http://127.0.0.1:${tracedPort}`;
    plainUrl = `http://127.0.0.1:${plainPort}`;
    await state.putConfig("traced-web", { address: `127.0.0.1:${tracedPort}` });
    await state.putConfig("plain-web", { address: `127.0.0.1:${plainPort}` });
    await state.putConfig("traced-kv", { bucket: "traced" });
    await state.putLink({ source: "http", target: "counter", interface: "wasi:http/incoming-handler", name: "default", config: ["traced-web"] });
    await state.putLink({ source: "counter", target: "kv", interface: "wasi:keyvalue", name: "default", config: ["traced-kv"] });
    await state.putLink({ source: "http-plain", target: "counter-plain", interface: "wasi:http/incoming-handler", name: "default", config: ["plain-web"] });
    await state.putLink({ source: "counter-plain", target: "kv-spy", interface: "wasi:keyvalue", name: "default", config: [] });
    const answers = async (url: string, status: number) => (await fetch(url, { signal: AbortSignal.timeout(10_000) }).catch(() => undefined))?.status === status || undefined;
    await until(() => answers(`${tracedUrl}/warmup`, 200), 60_000, "the traced chain answering");
    await until(() => answers(`${plainUrl}/warmup`, 500), 60_000, "the untraced chain reaching the spy");
  });
  after(async () => {
    disableTracing();
    await cleanup.run();
  });

  describe("off", () => {
    it("a caller's traceparent reaches the callee unchanged, invoke to server", async () => {
      assert.equal(tracingOn(), false);
      const traceparent = `00-${hex(16)}-${hex(8)}-01`;
      const before = spied.length;
      await assert.rejects(invoke(nc, new Subjects("default"), { target: "kv-spy", iface: "wasi:keyvalue/store", fn: "open", args: ["x"], source: "test", deadline: Date.now() + 5_000, traceparent }));
      assert.equal(spied[before]?.traceparent, traceparent);
    });

    it("an HTTP request's traceparent passes the http-server provider, the actor and its link unchanged", async () => {
      const traceparent = `00-${hex(16)}-${hex(8)}-01`;
      const before = spied.length;
      const r = await fetch(`${plainUrl}/hits`, { headers: { traceparent }, signal: AbortSignal.timeout(10_000) });
      await r.text();
      assert.equal(r.status, 500, "the spy refuses the actor's key-value call");
      assert.equal(r.headers.get("traceresponse"), null, "untraced: no span, so no traceresponse");
      assert.ok(spied.length > before, "the actor's key-value call reached the spy");
      assert.deepEqual(spied.slice(before).map((c) => c.traceparent), spied.slice(before).map(() => traceparent));
      assert.equal(memory.getFinishedSpans().length, 0, "this process recorded nothing");
    });
  });

  describe("on", () => {
    before(() => enableTracing(otelApi, new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: memory })] })));

    it("one request's trace: HTTP span on A, the actor's on B, the key-value provider's on C, each the child of the one before", async () => {
      const traceId = hex(16);
      const callerSpan = hex(8);
      const r = await fetch(`${tracedUrl}/traced`, { headers: { traceparent: `00-${traceId}-${callerSpan}-01` }, signal: AbortSignal.timeout(10_000) });
      assert.equal(r.status, 200);
      assert.equal((await r.text()).trim(), "1");

      // The response names the HTTP server span of the caller's trace.
      const returned = parseTraceparent(r.headers.get("traceresponse") ?? undefined);
      assert.ok(returned, `traceresponse: ${r.headers.get("traceresponse")}`);
      assert.equal(returned.traceId, traceId);
      assert.equal(returned.traceFlags, 1);

      const all = () => [...memory.getFinishedSpans().map(fromMemory), ...receiver.spans].filter((s) => s.traceId === traceId);
      const find = (where: string, spans: SeenSpan[], pred: (s: SeenSpan) => boolean): SeenSpan[] => {
        const got = spans.filter(pred);
        assert.ok(got.length > 0, `no ${where} span among ${JSON.stringify(spans.map((s) => [s.name, s.kind, s.attributes["lattice.host"]]))}`);
        return got;
      };
      // The spans of the key-value provider are the last to end: wait for those.
      const spans = await until(() => {
        const s = all();
        return s.some((x) => x.kind === "server" && x.attributes["lattice.target"] === "kv") && s.some((x) => x.attributes["http.request.method"]) ? s : undefined;
      }, 15_000, "the trace's spans exported");
      assert.deepEqual(receiver.bad, []);

      const [http] = find("HTTP server", spans, (s) => s.kind === "server" && s.attributes["http.request.method"] === "GET");
      assert.equal(http!.spanId, returned.spanId, "traceresponse is the HTTP server span");
      assert.equal(http!.parentSpanId, callerSpan, "the incoming traceparent is honoured: its span is the parent");
      assert.equal(http!.attributes["lattice.host"], hosts.a.id);
      assert.equal(http!.attributes["http.response.status_code"], 200);
      assert.equal(http!.attributes["url.path"], "/traced");
      assert.equal(http!.service, "lattice-provider");

      const [toActor] = find("client to the actor", spans, (s) => s.kind === "client" && s.attributes["lattice.target"] === "counter");
      assert.equal(toActor!.parentSpanId, http!.spanId);
      assert.equal(toActor!.attributes["lattice.source"], "http");

      const [actor] = find("actor server", spans, (s) => s.kind === "server" && s.attributes["lattice.target"] === "counter");
      assert.equal(actor!.parentSpanId, toActor!.spanId);
      assert.equal(actor!.attributes["lattice.host"], hosts.b.id);
      assert.equal(actor!.attributes["lattice.interface"], HTTP_INCOMING_HANDLER);
      assert.equal(actor!.attributes["lattice.function"], HTTP_HANDLE);

      // The actor's host calls (open, increment) are children of its server span...
      const toKv = find("client to the key-value provider", spans, (s) => s.kind === "client" && s.attributes["lattice.target"] === "kv");
      for (const c of toKv) {
        assert.equal(c.parentSpanId, actor!.spanId, `${c.name}'s parent`);
        assert.equal(c.attributes["lattice.source"], "counter");
      }
      // ...and each is the parent of the provider's server span on host C.
      const kv = find("key-value server", spans, (s) => s.kind === "server" && s.attributes["lattice.target"] === "kv");
      assert.deepEqual(kv.map((s) => s.parentSpanId).sort(), toKv.map((c) => c.spanId).sort());
      for (const s of kv) {
        assert.equal(s.attributes["lattice.host"], hosts.c.id);
        assert.equal(s.attributes["lattice.responder"], "kv");
      }
      const functions = toKv.map((c) => String(c.attributes["lattice.function"]));
      assert.ok(functions.includes("increment") && functions.every((f) => f === "open" || f === "increment"), `key-value calls: ${functions.join(", ")}`);

      // Nothing else in this trace: every span accounted for, one tree rooted at the caller's span.
      assert.equal(spans.length, 3 + toKv.length + kv.length, JSON.stringify(spans.map((s) => [s.name, s.kind])));
      const ids = new Set([callerSpan, ...spans.map((s) => s.spanId)]);
      for (const s of spans) assert.ok(s.parentSpanId && ids.has(s.parentSpanId), `${s.name} has a parent in the trace`);
    });

    it("a request with no valid traceparent starts a trace of its own; one not sampled stays unsampled", async () => {
      const bad = await fetch(`${tracedUrl}/bad`, { headers: { traceparent: `00-${"0".repeat(32)}-${hex(8)}-01` }, signal: AbortSignal.timeout(10_000) });
      await bad.text();
      const fresh = parseTraceparent(bad.headers.get("traceresponse") ?? undefined);
      assert.ok(fresh && fresh.traceId !== "0".repeat(32), `traceresponse: ${bad.headers.get("traceresponse")}`);

      const traceId = hex(16);
      const unsampled = await fetch(`${tracedUrl}/unsampled`, { headers: { traceparent: `00-${traceId}-${hex(8)}-00` }, signal: AbortSignal.timeout(10_000) });
      await unsampled.text();
      const kept = parseTraceparent(unsampled.headers.get("traceresponse") ?? undefined);
      assert.equal(kept?.traceId, traceId);
      assert.equal(kept?.traceFlags, 0, "the caller's decision is kept");
    });

    it("a failed call's server span says its error code", async () => {
      const traceId = hex(16);
      const r = await fetch(`${plainUrl}/fails`, { headers: { traceparent: `00-${traceId}-${hex(8)}-01` }, signal: AbortSignal.timeout(10_000) });
      await r.text();
      assert.equal(r.status, 500);
      // Host B records the actor's span; the spy's refusal is the key-value call's error.
      const spans = await until(() => {
        const s = memory.getFinishedSpans().map(fromMemory).filter((x) => x.traceId === traceId);
        return s.some((x) => x.kind === "server" && x.attributes["lattice.target"] === "counter-plain") ? s : undefined;
      }, 10_000, "the failed trace's spans");
      const toSpy = spans.filter((s) => s.kind === "client" && s.attributes["lattice.target"] === "kv-spy");
      assert.ok(toSpy.length > 0);
      assert.equal(toSpy[0]!.attributes["lattice.error_code"], ErrorCode.BadRequest);
      const spyServer = spans.find((s) => s.kind === "server" && s.attributes["lattice.target"] === "kv-spy");
      assert.equal(spyServer?.attributes["lattice.error_code"], ErrorCode.BadRequest);
      assert.equal(spyServer?.parentSpanId, toSpy[0]!.spanId);
    });
  });
});
