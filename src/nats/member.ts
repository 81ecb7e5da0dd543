/**
 * What every lattice member (a host, a provider process) keeps of the lattice, wired once: a
 * watched copy of its state, a view of its live hosts, and call security whose trusted signers
 * are those hosts, the member's own host and the setting's trusted keys.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import type { Subjects } from "../protocol/index.js";
import { callSecurity, type CallSecurity } from "./signing/call-security.js";
import { LatticeState, StateCache } from "./lattice-state.js";
import { LatticeView } from "./lattice-view.js";

export interface MemberOptions {
  nc: NatsConnection;
  subjects: Subjects;
  /** JetStream domain of the lattice's state, for members on leaf nodes. */
  jsDomain?: string;
  /** The nkey seed the member signs with (a provider's is its host's); without one it does not sign. */
  seed?: string;
  /** The member's own host: trusted before the view has heard of it. */
  hostId?: string;
  /** Whether its view hears heartbeats (see lattice-view.ts); a provider process needs none. */
  liveness: boolean;
  /** The state bucket could not be read (the cache retries). */
  stateUnreachable: (message: string) => void;
  warn: (message: string, fields: Record<string, unknown>) => void;
}

/** Built, not started: each member starts and stops them in its own order. */
export interface Member {
  state: StateCache;
  view: LatticeView;
  security: CallSecurity;
}

export function member(o: MemberOptions): Member {
  const state = new StateCache(new LatticeState(o.nc, o.subjects.lattice, { domain: o.jsDomain }), o.stateUnreachable);
  const view = new LatticeView(o.nc, o.subjects, { selfId: o.hostId, liveness: o.liveness });
  const security = callSecurity({
    nc: o.nc,
    subjects: o.subjects,
    seed: o.seed,
    settings: () => state.invocationSecurity(),
    trusted: (key) => key === o.hostId || view.has(key),
    warn: o.warn,
  });
  return { state, view, security };
}
