/**
 * Messages between the host thread and an actor worker thread. Values travel by structured
 * clone, so BigInt (u64), Uint8Array (list<u8>) and plain records arrive intact.
 */
import type { MessagePort } from "node:worker_threads";
import type { HttpInstances } from "./actor-metadata.js";

/** How a Node worker reaches the host synchronously (sync-bridge.ts; a browser's: sab-bridge.ts). */
export interface BridgeChannel {
  port: MessagePort;
  /** Int32Array over a SharedArrayBuffer: slot 0 counts the replies the host has posted. */
  signal: Int32Array;
}

/**
 * Load a component and make its instance: done ahead of need for the digests a host runs, so
 * that a start or scale-up only has to bind.
 */
export interface WorkerLoad {
  type: "load";
  /** The jco-generated instantiation module (ES module source). */
  js: string;
  /** Compiled core modules by file name, compiled once per digest and shared by every worker. */
  modules: Record<string, WebAssembly.Module>;
  /** Interfaces (unversioned names) served by forwarding to the host over the bridge. */
  forwarded: string[];
}

/** Make the loaded instance one actor's: its id, config and route to the host. */
export interface WorkerBind {
  type: "bind";
  actorId: string;
  config: Record<string, string>;
  /** The worker's end of its bridge to the host: what the platform's bridge made (worker-handle.ts). */
  bridge: unknown;
  /** `reuse`: one instance serves HTTP request after request; `fresh`: a new instance for each. */
  httpInstances: HttpInstances;
  /** Int32 cells by which a call is run or taken back (call-claims.ts). */
  claims: SharedArrayBuffer;
}

export interface WorkerCall {
  type: "call";
  id: number;
  /** Its cell in the bind's claims: the worker runs the call only if it claims it. */
  cell: number;
  deadline: number;
  /** The invocation's idempotency key, if it has one. */
  callId?: string;
  /** The invocation's W3C trace context, if it has one: its host calls carry it on. */
  traceparent?: string;
  /** Interface name as exported (`acme:demo/echo`), or "" for a function the world exports directly. */
  iface: string;
  fn: string;
  args: unknown[];
}

/** Calls for the instance to run one after another (actor-pool.ts posts short calls so). */
export interface WorkerCalls {
  type: "calls";
  calls: WorkerCall[];
}

export type WorkerRequest = WorkerLoad | WorkerBind | WorkerCall | WorkerCalls;

/** `expired`: the call's deadline had passed when its instance came to it (it was not run). */
export type CallFailureKind = "trap" | "bad_call" | "no_such_function" | "guest_error" | "host_error" | "expired";

/** One call's outcome; `ms`: how long it ran in the worker. */
export type WorkerResult =
  | { type: "result"; id: number; ok: true; value: unknown; ms: number }
  | { type: "result"; id: number; ok: false; kind: CallFailureKind; message: string; payload?: unknown; code?: string };

export type WorkerReply =
  | { type: "loaded" }
  | { type: "ready" }
  | { type: "init_failed"; message: string }
  | WorkerResult
  /** The outcomes of a WorkerCalls, in its order (sent early, in part, before a log record or a host call). */
  | { type: "results"; results: WorkerResult[] }
  | { type: "log"; level: string; context: string; message: string };

/** A request the guest makes of the host, synchronously, through the bridge. */
export interface HostCall {
  iface: string;
  /** The function, or `resource/method` for a method of a resource (`bucket/get`). */
  fn: string;
  args: unknown[];
  /** The deadline of the invocation the guest is serving (epoch ms): the call inherits it. */
  deadline: number;
  /** Derived from the served invocation's key and this call's place among its calls (childCallId). */
  callId?: string;
  /** The served invocation's W3C trace context. */
  traceparent?: string;
}

export type HostCallReply = { ok: true; value: unknown } | { ok: false; code: string; message: string; payload?: unknown };

/** A host call as it crosses the bridge, numbered so that its reply is told from a late one. */
export interface BridgeRequest {
  seq: number;
  call: HostCall;
}

export type BridgeReply = HostCallReply & { seq: number };
