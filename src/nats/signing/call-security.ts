/**
 * What a lattice member (a host, a provider process) needs for signed invocations, wired once:
 * a signer that signs its calls with session MACs and serves their keys, and a guard that
 * verifies incoming calls, fetching other signers' session keys as itself.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import type { Subjects } from "../../protocol/index.js";
import { CallSigner, InvocationGuard, type GuardOptions } from "./call-signing.js";
import { SessionKeyCache } from "./session-key-cache.js";
import type { SessionOptions } from "./signing-sessions.js";

export interface CallSecurityOptions extends Omit<GuardOptions, "sessions"> {
  nc: NatsConnection;
  subjects: Subjects;
  /** The member's nkey seed; without one it neither signs nor fetches session keys (it still verifies Ed25519 calls). */
  seed?: string;
  sessions?: SessionOptions;
}

export interface CallSecurity {
  signer?: CallSigner;
  guard: InvocationGuard;
  /** Stop serving session keys. */
  stop(): void;
}

export function callSecurity(o: CallSecurityOptions): CallSecurity {
  const signer = o.seed ? new CallSigner(o.seed) : undefined;
  const guard = new InvocationGuard({ ...o, sessions: signer && new SessionKeyCache(o.nc, o.subjects, signer.key) });
  // Keys go to verifiers by the rule verifiers apply to signers.
  signer?.serveSessions(o.nc, o.subjects, (key) => guard.trusts(key), { warn: o.warn, ...o.sessions });
  return { signer, guard, stop: () => signer?.stop() };
}
