/**
 * Every NATS subject lattice uses is built here, and nowhere else.
 *
 *   lattice.<L>.ctl.v1.<op>                  control request to every host (scatter-gather)
 *   lattice.<L>.ctl.v1.host.<hostId>.<op>    control request to one host
 *   lattice.<L>.evt.v1.<event_type>          lattice events (CloudEvents JSON)
 *
 * <L> is the lattice name: distinct names never share a subject, so lattices on one NATS
 * never see each other.
 */
import { assertHostId, assertLatticeName } from "./names.js";
import { PROTOCOL_TOKEN } from "./version.js";

export const SUBJECT_ROOT = "lattice";

/** Operations a host serves on its control subjects. */
export const ControlOp = {
  Ping: "ping",
  Inventory: "inventory",
} as const;
export type ControlOp = (typeof ControlOp)[keyof typeof ControlOp];
export const CONTROL_OPS: readonly ControlOp[] = Object.values(ControlOp);

export function isControlOp(op: string): op is ControlOp {
  return (CONTROL_OPS as readonly string[]).includes(op);
}

/** Subject builders for one lattice. Construct once per lattice name; the name is validated here. */
export class Subjects {
  readonly lattice: string;
  private readonly ctl: string;
  private readonly evt: string;

  constructor(lattice: string) {
    this.lattice = assertLatticeName(lattice);
    this.ctl = `${SUBJECT_ROOT}.${lattice}.ctl.${PROTOCOL_TOKEN}`;
    this.evt = `${SUBJECT_ROOT}.${lattice}.evt.${PROTOCOL_TOKEN}`;
  }

  /** A control request answered by every host of the lattice. */
  controlAll(op: ControlOp): string {
    return `${this.ctl}.${op}`;
  }

  /** A control request answered by one host. */
  controlHost(hostId: string, op: ControlOp): string {
    return `${this.ctl}.host.${assertHostId(hostId)}.${op}`;
  }

  /** What a host subscribes to for requests to every host: any op, so unknown ops get an error reply. */
  controlAllWildcard(): string {
    return `${this.ctl}.*`;
  }

  /** What a host subscribes to for requests to itself. */
  controlHostWildcard(hostId: string): string {
    return `${this.ctl}.host.${assertHostId(hostId)}.*`;
  }

  /** The operation token of a control subject (its last token). */
  controlOpOf(subject: string): string {
    return subject.slice(subject.lastIndexOf(".") + 1);
  }

  event(type: string): string {
    return `${this.evt}.${type}`;
  }

  /** Every event of this lattice. */
  eventsWildcard(): string {
    return `${this.evt}.>`;
  }
}
