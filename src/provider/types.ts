/** What a capability provider is made of, as the SDK sees it. */
import type { NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "../protocol/logging.js";
import type { Link } from "../protocol/index.js";

/** A link with its named configs resolved to values. */
export interface ResolvedLink extends Link {
  values: Record<string, string>;
}

/** Who is calling a provider's function, and through which link. */
export interface CallContext {
  /** The caller (an actor id). */
  source: string;
  linkName: string;
  /** The link from the caller to this provider, if there is one (a call without a link gets none). */
  link?: ResolvedLink;
  /** The link's config values (empty without a link). */
  config: Record<string, string>;
  /** Epoch milliseconds. */
  deadline: number;
  /**
   * The call's idempotency key: the same for every retry and hedge of one logical call (an HTTP
   * request's, or derived from the call that made it). A provider whose function has an effect
   * applies it at most once per key (the built-in keyvalue provider does).
   */
  callId: string;
  /** The call's W3C trace context, if it has one: pass it on (CallOptions) in calls made for it. */
  traceparent?: string;
}

export type ProviderHandler = (ctx: CallContext, ...args: unknown[]) => unknown;

export interface ProviderDefinition {
  /**
   * Functions served, by unversioned interface (`wasi:keyvalue/store`) then function name; a
   * resource method is `resource/method` (`bucket/get`), its first argument the resource handle.
   */
  exports?: Record<string, Record<string, ProviderHandler>>;
  /** The links whose source is this provider (an HTTP server's routes), at start and on every change. */
  sourceLinks?(links: ResolvedLink[]): void | Promise<void>;
  /** The links whose target is this provider, at start and on every change. */
  targetLinks?(links: ResolvedLink[]): void | Promise<void>;
  /** Release what the provider holds; called once, on a graceful stop. */
  stop?(): void | Promise<void>;
}

export interface CallOptions {
  linkName?: string;
  /** Epoch milliseconds; default: now + 10 s. */
  deadline?: number;
  /**
   * When to send the call again (same call id) while it has no answer, within the deadline:
   * `auto` (default) after the router's retransmission timeout for the target, ms, or 0 never.
   */
  attemptTimeoutMs?: number | "auto";
  /** The call's idempotency key; default a fresh one. Keep it to make a call again as the same call. */
  callId?: string;
  /** The W3C trace context to send: the served call's (CallContext.traceparent), for a call made for it. */
  traceparent?: string;
}

/** What a provider gets from the lattice. */
export interface ProviderRuntime {
  readonly id: string;
  readonly lattice: string;
  readonly hostId?: string;
  /** The config the provider was started with. */
  readonly config: Readonly<Record<string, string>>;
  readonly nc: NatsConnection;
  readonly log: Logger;
  /** Call a function of a target (an actor) as this provider. */
  call(target: string, iface: string, fn: string, args: readonly unknown[], opts?: CallOptions): Promise<unknown>;
  /** Like `call`, also saying which host's instance answered, and after how many attempts. */
  invoke(target: string, iface: string, fn: string, args: readonly unknown[], opts?: CallOptions): Promise<{ value: unknown; responder?: string; attempts: number }>;
  /** Report health; the supervising host publishes changes as `provider_health`. */
  setHealth(healthy: boolean, message?: string): void;
}
