/**
 * Where an actor's imports go: each call on an imported interface that the host does not serve
 * itself is sent to the target of the actor's link for that interface, read from the watched
 * lattice state at call time, so a re-pointed link takes effect on the next call.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import type { HostCall, ImportForwarder } from "../actor/runtime.js";
import type { CallSigner } from "../nats/signing/call-signing.js";
import { invoke, type InvokeRequest } from "../nats/invocations.js";
import type { SpyTap } from "../nats/spy.js";
import type { StateCache } from "../nats/lattice-state.js";
import { ErrorCode, LatticeError, capsAllow, unversioned, type ActorClaims, type Subjects } from "../protocol/index.js";
import type { PolicyGate } from "./policy.js";

export class LinkRouter {
  constructor(
    private readonly nc: NatsConnection,
    private readonly subjects: Subjects,
    private readonly state: StateCache,
    /** The host's key: calls are signed with it while the lattice verifies invocations. */
    private readonly signer?: CallSigner,
    /** Asked before each use of a link (decisions are cached, so not every call asks). */
    private readonly policy?: PolicyGate,
    /** Records an actor's calls while someone spies on it. */
    private readonly spy?: SpyTap,
  ) {}

  /** The ImportForwarder of a host's actors. */
  readonly forward = async (actorId: string, call: HostCall): Promise<unknown> => {
    const link = this.state.findLink(actorId, call.iface);
    if (!link) {
      throw new LatticeError(
        ErrorCode.NotFound,
        `actor ${actorId} has no link for ${call.iface}; add one: lattice link put ${actorId} <target> ${call.iface}`,
      );
    }
    if (this.policy) {
      const q = { action: "link", source: actorId, target: link.target, interface: unversioned(call.iface), link: link.name } as const;
      const checking = this.policy.check(q, () => `link ${actorId} -> ${link.target} (${q.interface}, ${link.name})`);
      const refused = checking instanceof Promise ? await checking : checking;
      if (refused) throw refused;
    }
    const req: InvokeRequest = {
      target: link.target,
      iface: call.iface,
      fn: call.fn,
      args: call.args,
      source: actorId,
      linkName: link.name,
      deadline: call.deadline,
      ...(call.callId ? { callId: call.callId } : {}),
      ...(call.traceparent ? { traceparent: call.traceparent } : {}),
      signer: this.state.invocationSecurity()?.verify ? this.signer : undefined,
    };
    const r = await (this.spy?.on && this.spy.watching(actorId) ? this.spy.calling(req, (x) => invoke(this.nc, this.subjects, x)) : invoke(this.nc, this.subjects, req));
    return r.value;
  };
}

/**
 * An actor's forwarder limited to the link interfaces its claims allow (`caps`): a call on any
 * other is refused before it leaves the host. Imports served inside the worker (WASI, logging,
 * config) never reach a forwarder, so they stay allowed.
 */
export function restrictToCaps(claims: ActorClaims, forward: ImportForwarder): ImportForwarder {
  const caps = claims.lattice.caps;
  return (actorId, call) => {
    if (capsAllow(caps, call.iface)) return forward(actorId, call);
    const allowed = caps.length > 0 ? `allow only ${caps.join(", ")}` : "allow no linked interface";
    return Promise.reject(
      new LatticeError(ErrorCode.Forbidden, `actor ${actorId} may not call ${unversioned(call.iface)}: its claims (${claims.lattice.name}, issuer ${claims.iss}) ${allowed}`),
    );
  };
}
