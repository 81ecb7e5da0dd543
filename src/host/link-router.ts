/**
 * Where an actor's imports go: each call on an imported interface that the host does not serve
 * itself is sent to the target of the actor's link for that interface, read from the watched
 * lattice state at call time, so a re-pointed link takes effect on the next call.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import type { HostCall } from "../actor/runtime.js";
import { invoke } from "../nats/invocations.js";
import type { StateCache } from "../nats/lattice-state.js";
import { ErrorCode, LatticeError, type Subjects } from "../protocol/index.js";

export class LinkRouter {
  constructor(
    private readonly nc: NatsConnection,
    private readonly subjects: Subjects,
    private readonly state: StateCache,
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
    const r = await invoke(this.nc, this.subjects, {
      target: link.target,
      iface: call.iface,
      fn: call.fn,
      args: call.args,
      source: actorId,
      linkName: link.name,
      deadline: call.deadline,
    });
    return r.value;
  };
}
