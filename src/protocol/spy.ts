/**
 * The wire messages of `lattice spy`: a spy's lease on an id (asked for and renewed on the id's
 * lease subject), a member's answer that it serves or calls that id, and the record a member
 * publishes for each call to or from the id while a lease on it is live.
 */
import { Type, type Static } from "@sinclair/typebox";
import { TARGET_ID_PATTERN } from "./names.js";

/** How long a lease lasts unless renewed; a spy renews it every {@link SPY_RENEW_MS}. */
export const SPY_LEASE_MS = 6_000;
export const SPY_RENEW_MS = 2_000;
/** The longest lease a member grants: a spy that went away stops costing anything by then at the latest. */
export const MAX_SPY_LEASE_MS = 60_000;

/** A lease on an id: publish `calls.<id>` records for `ttlMs` from now (0: release it now). */
export const SpyLease = Type.Object({
  /** Who holds it: a random token per spy, so one spy's release leaves the others' leases alone. */
  spy: Type.String({ minLength: 8, maxLength: 64 }),
  ttlMs: Type.Integer({ minimum: 0, maximum: MAX_SPY_LEASE_MS }),
});
export type SpyLease = Static<typeof SpyLease>;

/** A member's answer to a lease request: it serves the id (its instances, or it is the provider), so it will publish records. */
export const SpyPresence = Type.Object({
  /** The host id, or the provider id. */
  by: Type.String({ minLength: 1, maxLength: 256 }),
  kind: Type.Union([Type.Literal("actor"), Type.Literal("provider")]),
});
export type SpyPresence = Static<typeof SpyPresence>;

/** One call seen by a member, to (`in`) or from (`out`) the spied id. */
export const SpyRecord = Type.Object({
  direction: Type.Union([Type.Literal("in"), Type.Literal("out")]),
  /** The spied id (the target of an `in` call, the source of an `out` one). */
  id: Type.String({ pattern: TARGET_ID_PATTERN }),
  source: Type.String({ maxLength: 256 }),
  target: Type.String({ maxLength: 256 }),
  interface: Type.String({ maxLength: 256 }),
  function: Type.String({ maxLength: 256 }),
  callId: Type.String({ maxLength: 256 }),
  /** How long it took, ms: served (in), or answered as the caller waited for it (out). */
  ms: Type.Number({ minimum: 0 }),
  /** The invocation message's size and its reply's (0: no reply reached the caller). */
  requestBytes: Type.Integer({ minimum: 0 }),
  replyBytes: Type.Integer({ minimum: 0 }),
  ok: Type.Boolean(),
  /** The error code of a failed call. */
  code: Type.Optional(Type.String({ maxLength: 64 })),
  /** Attempts the caller sent (out calls that were answered). */
  attempts: Type.Optional(Type.Integer({ minimum: 1 })),
  /** Who saw it: the host or provider id. */
  by: Type.String({ maxLength: 256 }),
  /** When it ended, RFC 3339. */
  at: Type.String({ maxLength: 64 }),
});
export type SpyRecord = Static<typeof SpyRecord>;
