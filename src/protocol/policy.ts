/**
 * The policy hook's wire format: what a host asks a policy service before it starts an actor or
 * provider, routes an actor's import over a link, or runs an incoming call, and what it expects
 * back. The subject is the operator's choice (`--policy-subject`); the exchange is one NATS
 * request-reply with a JSON body. See docs/protocol.md#policy.
 */
import { Type, type Static } from "@sinclair/typebox";
import { ClaimsSummary } from "./claims.js";
import { HostId, Labels } from "./schemas.js";

export const PolicyAction = {
  /** An actor about to start or change ref on a host, or a provider about to start. */
  Start: "start",
  /** An actor's import about to be sent over a link. */
  Link: "link",
  /** An incoming call about to run on an instance. */
  Invoke: "invoke",
} as const;
export type PolicyAction = (typeof PolicyAction)[keyof typeof PolicyAction];
export const POLICY_ACTIONS: readonly PolicyAction[] = Object.values(PolicyAction);

const Id = Type.String({ minLength: 1, maxLength: 256 });

/** The host that asks. */
export const PolicyHost = Type.Object({ id: HostId, name: Type.String({ maxLength: 128 }), labels: Labels });
export type PolicyHost = Static<typeof PolicyHost>;

/**
 * One question. Which fields are set depends on the action:
 * - `start`: `kind`, `target` (the actor or provider id), `ref`, and for an actor `digest` and
 *   `claims` (when signed);
 * - `link`: `source` (the calling actor), `target`, `interface` (unversioned), `link` (its name);
 * - `invoke`: `source`, `target`, `interface` ("" for a world-level function), `function`, and
 *   `signer`, the key that signed the call when the lattice verifies invocations (else absent).
 */
export const PolicyRequest = Type.Object({
  action: Type.Union(POLICY_ACTIONS.map((a) => Type.Literal(a))),
  host: PolicyHost,
  kind: Type.Optional(Type.Union([Type.Literal("actor"), Type.Literal("provider")])),
  source: Type.Optional(Id),
  target: Type.Optional(Id),
  ref: Type.Optional(Type.String({ maxLength: 1024 })),
  digest: Type.Optional(Type.String({ maxLength: 80 })),
  claims: Type.Optional(ClaimsSummary),
  interface: Type.Optional(Type.String({ maxLength: 256 })),
  function: Type.Optional(Type.String({ maxLength: 256 })),
  link: Type.Optional(Type.String({ maxLength: 256 })),
  signer: Type.Optional(Type.String({ maxLength: 64 })),
});
export type PolicyRequest = Static<typeof PolicyRequest>;

/**
 * The answer. `reason` is shown to whoever is refused (keep it for people). `ttlMs` overrides how
 * long the host may reuse this decision for the same question (0: ask every time).
 */
export const PolicyReply = Type.Object({
  allow: Type.Boolean(),
  reason: Type.Optional(Type.String({ maxLength: 1024 })),
  ttlMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400_000 })),
});
export type PolicyReply = Static<typeof PolicyReply>;

/** Data of the `policy_denied` event: what was refused, on which host, and why. */
export const PolicyDenied = Type.Object({
  hostId: HostId,
  action: Type.Union(POLICY_ACTIONS.map((a) => Type.Literal(a))),
  kind: Type.Optional(Type.Union([Type.Literal("actor"), Type.Literal("provider")])),
  source: Type.Optional(Id),
  target: Type.Optional(Id),
  ref: Type.Optional(Type.String({ maxLength: 1024 })),
  interface: Type.Optional(Type.String({ maxLength: 256 })),
  function: Type.Optional(Type.String({ maxLength: 256 })),
  link: Type.Optional(Type.String({ maxLength: 256 })),
  reason: Type.String({ maxLength: 1024 }),
});
export type PolicyDenied = Static<typeof PolicyDenied>;
