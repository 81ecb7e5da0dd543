/**
 * What an actor worker runs, on any platform (the entry points: actor-worker.ts in Node,
 * src/web/actor.worker.ts in a page): one component instance, one call at a time. `load`
 * makes the instance (ahead of need when the worker is a spare), `bind` gives it an actor. A
 * trap (or any failure that may have left the instance half-way) discards the instance; the next
 * call makes a fresh one from the already-compiled core modules.
 *
 * HTTP calls (`wasi:http/incoming-handler.handle`) go to the instance's `lattice:http/plain-handler`
 * export when it has one (http-plain.ts), else to its wasi:http export (http-incoming.ts). They
 * are served by the one instance for its whole life when the actor's mode is `reuse`; in `fresh`
 * mode each request gets a new instance, made as soon as the previous request is answered
 * (actor-metadata.ts says which components need it).
 */
import { isLatticeError } from "../protocol/errors.js";
import { childCallId } from "../protocol/invocation.js";
import { httpRequestArgs, isHttpHandleCall } from "../protocol/http.js";
import { unversioned } from "../protocol/links.js";
import { messageOf } from "../protocol/errors.js";
import { claimCall } from "./call-claims.js";
import { ForwardedImports } from "./forwarded-imports.js";
import { HostCallError, callHostSync, type SyncReplies } from "./host-bridge.js";
import { HttpHandlerError, HttpNoResponseError, serveHttp, type IncomingHandle } from "./http-incoming.js";
import { PLAIN_HTTP_INTERFACE, servePlainHttp, type PlainHandle } from "./http-plain.js";
import { localImports, type ActorContext } from "./local-imports.js";
import type { HttpInstances } from "./actor-metadata.js";
import type { WorkerCall, WorkerLoad, WorkerReply, WorkerRequest, WorkerResult } from "./worker-protocol.js";

/** How long a guest may block on one host call; the invocation deadline usually ends it first. */
const HOST_CALL_TIMEOUT_MS = 60_000;

export type Instantiate = (getCoreModule: (name: string) => WebAssembly.Module, imports: Record<string, unknown>) => Record<string, unknown>;

/** What a worker of one platform gives the instance it runs. */
export interface WorkerSide {
  send(m: WorkerReply): void;
  /** Calls `handler` with each message from the pool or the supply. */
  receive(handler: (m: WorkerRequest) => void): void;
  /** The worker's end of its bridge, as the platform made it (WorkerBind.bridge). */
  replies(bridge: unknown): SyncReplies;
  /** Evaluates jco's instantiation module (ES module source). */
  importGlue(js: string): Promise<{ instantiate: Instantiate }>;
}

/** After the current task (Node: setImmediate; a page's worker has only timers). */
const soon: (fn: () => void) => void = typeof setImmediate === "function" ? (fn) => void setImmediate(fn) : (fn) => void setTimeout(fn, 0);

/** Run this worker's instance: answer what `side` receives until the worker is terminated. */
export function serveActorWorker(side: WorkerSide): void {
  /** While a WorkerCalls runs: the results not yet sent, which leave together. */
  let batch: WorkerResult[] | undefined;
  const flush = (): void => {
    if (!batch?.length) return;
    side.send({ type: "results", results: batch });
    batch = [];
  };
  // Anything but a result first sends the results before it: a log record belongs to the call
  // after them (actor-pool.ts), and a host call may block this worker for long.
  const send = (m: WorkerReply): void => {
    if (batch && m.type === "result") {
      batch.push(m);
      return;
    }
    flush();
    side.send(m);
  };

  const ctx: ActorContext = {
    actorId: "(unbound)",
    config: {},
    log: (level, context, message) => send({ type: "log", level, context, message }),
  };
  let bridge: SyncReplies | undefined;
  let claims: Int32Array | undefined;
  let load: WorkerLoad;
  let instantiate: Instantiate;
  let instance: Record<string, unknown> | undefined;
  /** The instance's plain HTTP handler, if it exports one. */
  let plainHttp: PlainHandle | undefined;
  let httpInstances: HttpInstances = "fresh";
  /** HTTP requests the current instance has answered. */
  let served = 0;

  /** The deadline of the call being served: host calls made for it inherit it. */
  let deadline = 0;
  /** The idempotency key of the call being served, and how many host calls it has made. */
  let callId: string | undefined;
  /** The W3C trace context of the call being served: its host calls carry it on. */
  let traceparent: string | undefined;
  let hostCalls = 0;

  const forwarded = new ForwardedImports((iface, fn, args) => {
    if (!bridge) throw new Error(`${iface}.${fn} called before the instance was bound to an actor`);
    // The served call's deadline as it is: a retry of that call elsewhere makes this host call again
    // under the same key, and the key names one call only with the same deadline.
    const until = deadline || Date.now() + HOST_CALL_TIMEOUT_MS;
    const key = callId === undefined ? undefined : childCallId(callId, hostCalls++);
    flush();
    return callHostSync(bridge, { iface, fn, args, deadline: until, ...(key ? { callId: key } : {}), ...(traceparent ? { traceparent } : {}) }, Math.min(Math.max(1, until - Date.now()), HOST_CALL_TIMEOUT_MS));
  });

  function fresh(): Record<string, unknown> {
    served = 0;
    const imports = localImports(ctx);
    for (const iface of load.forwarded) imports[iface] = forwarded.interface(iface);
    const made = instantiate((name) => {
      const m = load.modules[name];
      if (!m) throw new Error(`component asks for core module ${name}, which the transpiler did not produce`);
      return m;
    }, imports);
    plainHttp = lookup(made, PLAIN_HTTP_INTERFACE, "handle");
    return made;
  }

  /** The exported function: `iface` as exported (versioned or not), or a world-level function. */
  function lookup(inst: Record<string, unknown>, iface: string, fn: string): ((...a: unknown[]) => unknown) | undefined {
    const target: unknown = iface === "" ? inst : (inst[iface] ?? inst[unversioned(iface)] ?? exportOf(inst, unversioned(iface)));
    if (!target || typeof target !== "object") return undefined;
    const f = (target as Record<string, unknown>)[fn] ?? (target as Record<string, unknown>)[camel(fn)];
    return typeof f === "function" ? (f as (...a: unknown[]) => unknown) : undefined;
  }

  /** An interface exported with a version (`acme:demo/echo@1.0.0`) found by its unversioned name. */
  function exportOf(inst: Record<string, unknown>, name: string): unknown {
    const key = Object.keys(inst).find((k) => unversioned(k) === name);
    return key === undefined ? undefined : inst[key];
  }

  function camel(kebab: string): string {
    return kebab.replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
  }

  /** A failed call to the host (no link, target down…), possibly wrapped by the guest's runtime. */
  function hostError(e: unknown): HostCallError | undefined {
    for (let x: unknown = e, depth = 0; x instanceof Error && depth < 5; x = x.cause, depth++) {
      if (x instanceof HostCallError) return x;
    }
    return undefined;
  }

  function bigintSafe(_k: string, v: unknown): unknown {
    return typeof v === "bigint" ? v.toString() : v;
  }

  function call(c: WorkerCall): void {
    if (claims && !claimCall(claims, c.cell)) return; // taken back by the pool for another instance
    // Posted behind another call (actor-pool.ts), it may have outlived its deadline waiting here.
    if (c.deadline <= Date.now()) {
      send({ type: "result", id: c.id, ok: false, kind: "expired", message: `call to actor ${ctx.actorId} expired before its instance came to it` });
      return;
    }
    try {
      instance ??= fresh();
    } catch (e) {
      send({ type: "result", id: c.id, ok: false, kind: "bad_call", message: `could not instantiate: ${messageOf(e)}` });
      return;
    }
    const f = lookup(instance, c.iface, c.fn);
    if (!f) {
      const what = c.iface === "" ? c.fn : `${c.iface}.${c.fn}`;
      send({ type: "result", id: c.id, ok: false, kind: "no_such_function", message: `actor ${ctx.actorId} exports no function ${what}` });
      return;
    }
    deadline = c.deadline;
    callId = c.callId;
    traceparent = c.traceparent;
    hostCalls = 0;
    const started = performance.now();
    if (isHttpHandleCall(c.iface, c.fn)) return callHttp(c, f, started);
    try {
      const value = f(...c.args);
      send({ type: "result", id: c.id, ok: true, value, ms: performance.now() - started });
    } catch (e) {
      failed(c, e);
    }
  }

  /** Report a failed call; a failure that may have left the instance half-way discards it. */
  function failed(c: WorkerCall, e: unknown): void {
    // jco raises a ComponentError carrying the payload of a `result` error: the guest answered,
    // and its instance is fine.
    if (e instanceof Error && e.name === "ComponentError" && "payload" in e) {
      send({ type: "result", id: c.id, ok: false, kind: "guest_error", message: JSON.stringify(e.payload, bigintSafe), payload: e.payload });
      return;
    }
    instance = undefined; // a trap poisons the instance: the next call gets a fresh one
    if (e instanceof HttpHandlerError) {
      send({ type: "result", id: c.id, ok: false, kind: "guest_error", message: e.message, payload: e.payload });
      return;
    }
    const host = hostError(e);
    if (host) {
      send({ type: "result", id: c.id, ok: false, kind: "host_error", code: host.code, message: host.message });
      return;
    }
    if (isLatticeError(e)) {
      // Decided by the worker itself (bad HttpRequest, oversized body): keep its code.
      send({ type: "result", id: c.id, ok: false, kind: "host_error", code: e.code, message: e.message });
      return;
    }
    const trap = e instanceof WebAssembly.RuntimeError || e instanceof HttpNoResponseError;
    const message = messageOf(e);
    send({ type: "result", id: c.id, ok: false, kind: trap ? "trap" : "bad_call", message });
  }

  /**
   * `wasi:http/incoming-handler.handle` with an HttpRequest value (see http-incoming.ts). In
   * `fresh` mode the instance serves this request only, and the next one is made as soon as this
   * call is answered.
   */
  function callHttp(c: WorkerCall, handle: IncomingHandle, started: number): void {
    try {
      const req = httpRequestArgs(c.args);
      const plain = plainHttp;
      if (httpInstances === "fresh") instance = undefined;
      const response = plain ? servePlainHttp(plain, req) : serveHttp(handle, req);
      served++;
      send({ type: "result", id: c.id, ok: true, value: response, ms: performance.now() - started });
    } catch (e) {
      // A handler that answered before and answers nothing now is one that serves once (like the
      // engine's fetch-event shim): from now on, this worker gives each request a fresh instance.
      if (httpInstances === "reuse" && served > 0 && e instanceof HttpNoResponseError) {
        httpInstances = "fresh";
        ctx.log("warn", "lattice", `actor ${ctx.actorId} answered no response on a reused instance after ${served}; serving one request per instance from now on (actor config lattice.http.instances=fresh says so up front)`);
      }
      failed(c, e);
    }
    if (httpInstances === "fresh") soon(prepareNext);
  }

  function prepareNext(): void {
    try {
      instance ??= fresh();
    } catch {
      // the next call reports it
    }
  }

  async function onLoad(m: WorkerLoad): Promise<void> {
    try {
      load = m;
      instantiate = (await side.importGlue(m.js)).instantiate;
      instance = fresh();
      send({ type: "loaded" });
    } catch (e) {
      send({ type: "init_failed", message: messageOf(e) });
    }
  }

  side.receive((m: WorkerRequest) => {
    switch (m.type) {
      case "call":
        return call(m);
      case "calls":
        batch = [];
        for (const c of m.calls) call(c);
        flush();
        batch = undefined;
        return;
      case "load":
        return void onLoad(m);
      case "bind":
        ctx.actorId = m.actorId;
        ctx.config = m.config;
        bridge = side.replies(m.bridge);
        claims = new Int32Array(m.claims);
        httpInstances = m.httpInstances;
        return send({ type: "ready" });
    }
  });
}
