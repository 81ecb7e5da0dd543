/**
 * What a host needs from an actor runtime. The host core only sees this interface: the Node
 * runtime (worker threads) is one implementation, the browser host page's (Web Workers) another;
 * both are worker-runtime.ts over their platform.
 */
import type { HostCall } from "./worker-protocol.js";

/** Serves an actor's imports that no local capability provides (a linked target, over the lattice). */
export type ImportForwarder = (actorId: string, call: HostCall) => Promise<unknown>;

export interface Invocation {
  /** Interface as exported (`acme:demo/echo`), or "" for a function the world exports directly. */
  iface: string;
  fn: string;
  args: unknown[];
  /** Epoch milliseconds. */
  deadline: number;
  /** The call's idempotency key: the calls the instance makes for it derive theirs from it. */
  callId?: string;
  /** The W3C trace context of the call: the calls the instance makes for it carry it on. */
  traceparent?: string;
}

export interface InstanceStats {
  calls: number;
  failed: number;
  traps: number;
  timeouts: number;
  /** Instances replaced: stuck past a call's deadline, crashed, or never ready. */
  replaced: number;
  /** Calls refused because they would have waited too long for an instance (overload). */
  refused: number;
}

/** What the instances of an actor on one host are doing now (the inventory shows it). */
export interface InstanceLoad {
  /** Instances running a call. */
  busy: number;
  /** Calls waiting for an instance. */
  queued: number;
  /** Busy instances whose call is past its deadline: replaced unless they finish within a grace. */
  stuck: number;
}

/** The running instances of one actor on one host. */
export interface ActorInstances {
  readonly digest: string;
  /** Instances wanted (some may be restarting). */
  readonly size: number;
  readonly stats: Readonly<InstanceStats>;
  load(): InstanceLoad;
  invoke(inv: Invocation): Promise<unknown>;
  scale(n: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Where an actor's wasi:logging records go, with the traceparent of the call its instance was
 * serving when it logged (none between calls). Without one, they go to the runtime's Logger.
 */
export type ActorLogSink = (level: string, context: string, message: string, traceparent: string | undefined) => void;

export interface StartOptions {
  actorId: string;
  digest: string;
  instances: number;
  config?: Record<string, string>;
  forward?: ImportForwarder;
  logSink?: ActorLogSink;
}

export interface ActorRuntime {
  /** Check and compile a component once per digest; returns the digest. */
  prepare(bytes: Uint8Array, what: string): Promise<string>;
  /** True if a component of this digest is compiled already (no need to fetch its bytes). */
  has(digest: string): boolean;
  start(opts: StartOptions): Promise<ActorInstances>;
  /**
   * Give back what preparing left behind (the fetched bytes are garbage once `prepare`'s caller is
   * done with them), before instances start and their cost is measured. Optional: a no-op by default.
   */
  settle?(): void;
  /** Release what the runtime holds (spare workers). */
  close(): Promise<void>;
}

export type { HostCall };
