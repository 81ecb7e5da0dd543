/**
 * Every NATS subject lattice uses is built here, and nowhere else.
 *
 *   lattice.<L>.ctl.v1.<op>                  control request to every host (scatter-gather)
 *   lattice.<L>.ctl.v1.host.<hostId>.<op>    control request to one host
 *   lattice.<L>.evt.v1.<event_type>          lattice events (CloudEvents JSON)
 *   lattice.<L>.rpc.v1.<target>.<iface>.<fn> invocations of a target's function (queue group per target)
 *   lattice.<L>.rpd.v1.<target>.<member>.<iface>.<fn>
 *                                            the same, to one member serving the target (direct)
 *   lattice.<L>.rpm.v1.<target>              who serves a target: every member answers its address
 *   lattice.<L>.ctl.v1.session.<signer>.<id> a signer's session key, asked for by verifiers
 *   lattice.<L>.spy.v1.lease.<id>            a spy's lease on an id (`lattice spy`), asked for and renewed
 *   lattice.<L>.spy.v1.calls.<id>            one record per call to or from a spied id, while leased
 *   lattice.<L>.log.v1.<hostId>.<source>     log records of an actor or provider on a host (log-records.ts)
 *
 * <L> is the lattice name: distinct names never share a subject, so lattices on one NATS
 * never see each other.
 */
import { ErrorCode, LatticeError } from "./errors.js";
import { isSessionId, isSignerKey } from "./invocation-signature.js";
import { assertHostId, assertLatticeName, assertTargetId } from "./names.js";
import { PROTOCOL_TOKEN } from "./version.js";

export const SUBJECT_ROOT = "lattice";

/** Operations a host serves on its control subjects. */
export const ControlOp = {
  Ping: "ping",
  Inventory: "inventory",
  /** Set the instance count of an actor on one host (starting or stopping it there). */
  ActorScale: "actor_scale",
  /** Stop an actor on every host that runs it. */
  ActorStop: "actor_stop",
  /** Start (supervise) a capability provider process on one host. */
  ProviderStart: "provider_start",
  /** Stop a provider on every host that supervises it. */
  ProviderStop: "provider_stop",
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
  private readonly rpc: string;
  private readonly rpd: string;
  private readonly rpm: string;
  private readonly spy: string;
  private readonly logs: string;
  /** The prefixes parseInvocation looks for, built once (it runs on every call served). */
  private readonly rpcDot: string;
  private readonly rpdDot: string;

  constructor(lattice: string) {
    this.lattice = assertLatticeName(lattice);
    this.ctl = `${SUBJECT_ROOT}.${lattice}.ctl.${PROTOCOL_TOKEN}`;
    this.evt = `${SUBJECT_ROOT}.${lattice}.evt.${PROTOCOL_TOKEN}`;
    this.rpc = `${SUBJECT_ROOT}.${lattice}.rpc.${PROTOCOL_TOKEN}`;
    this.rpd = `${SUBJECT_ROOT}.${lattice}.rpd.${PROTOCOL_TOKEN}`;
    this.rpm = `${SUBJECT_ROOT}.${lattice}.rpm.${PROTOCOL_TOKEN}`;
    this.spy = `${SUBJECT_ROOT}.${lattice}.spy.${PROTOCOL_TOKEN}`;
    this.logs = `${SUBJECT_ROOT}.${lattice}.log.${PROTOCOL_TOKEN}`;
    this.rpcDot = `${this.rpc}.`;
    this.rpdDot = `${this.rpd}.`;
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

  /** The event type of an event subject (its last token). */
  eventTypeOf(subject: string): string {
    return subject.slice(subject.lastIndexOf(".") + 1);
  }

  /** Every event of this lattice. */
  eventsWildcard(): string {
    return `${this.evt}.>`;
  }

  /**
   * Where a verifier asks `signer` for the key of its session `session`: only the process that
   * made the session subscribes, so a session nobody has gets "no responders" at once.
   */
  sessionKey(signer: string, session: string): string {
    if (!isSignerKey(signer) || !isSessionId(session)) throw new LatticeError(ErrorCode.BadRequest, `invalid signer key or session id: ${JSON.stringify(`${signer}.${session}`)}`);
    return `${this.ctl}.session.${signer}.${session}`;
  }

  /** Where a spy asks for (and renews) its lease on `id`; members that serve `id` answer. */
  spyLease(id: string): string {
    return `${this.spy}.lease.${assertTargetId(id)}`;
  }

  /** What every member subscribes to for leases: any id, since what it serves or calls changes. */
  spyLeaseWildcard(): string {
    return `${this.spy}.lease.*`;
  }

  /** The id a lease subject is about (its last token). */
  spyLeaseIdOf(subject: string): string {
    return subject.slice(subject.lastIndexOf(".") + 1);
  }

  /** Where members publish one record per call to or from `id` while it is leased. */
  spyCalls(id: string): string {
    return `${this.spy}.calls.${assertTargetId(id)}`;
  }

  /** Where a host publishes the log records of `source` (an actor or provider id) it runs. */
  log(hostId: string, source: string): string {
    return `${this.logs}.${assertHostId(hostId)}.${assertTargetId(source)}`;
  }

  /** The log records of one source and/or host, or every record of the lattice. */
  logFilter(hostId?: string, source?: string): string {
    return `${this.logs}.${hostId === undefined ? "*" : assertHostId(hostId)}.${source === undefined ? "*" : assertTargetId(source)}`;
  }

  /** The subject of a call to `target`'s function `fn` of interface `iface` ("" for a world-level function). */
  invocation(target: string, iface: string, fn: string): string {
    return `${this.rpc}.${assertTargetId(target)}.${ifaceToken(iface)}.${assertFunctionName(fn)}`;
  }

  /** Every call to `target`: what its instances subscribe to. */
  invocationWildcard(target: string): string {
    return `${this.rpc}.${assertTargetId(target)}.>`;
  }

  /** The queue group of a target's instances: exactly one of them answers each call. */
  invocationQueue(target: string): string {
    return `rpc.${assertTargetId(target)}`;
  }

  /** A call to `target`'s function sent to one member (the `at` of its replies) rather than to the group. */
  invocationDirect(target: string, member: string, iface: string, fn: string): string {
    return `${this.rpd}.${assertTargetId(target)}.${assertMemberToken(member)}.${ifaceToken(iface)}.${assertFunctionName(fn)}`;
  }

  /** Every call to one member of `target`: what that member subscribes to. */
  invocationDirectWildcard(target: string, member: string): string {
    return `${this.rpd}.${assertTargetId(target)}.${assertMemberToken(member)}.>`;
  }

  /** Every direct call to any member of `target` (for observers; a member subscribes to its own address only). */
  invocationDirectAll(target: string): string {
    return `${this.rpd}.${assertTargetId(target)}.>`;
  }

  /** Where a caller asks who serves `target`: each member answers with its address (scatter-gather). */
  invocationMembers(target: string): string {
    return `${this.rpm}.${assertTargetId(target)}`;
  }

  /**
   * Target, interface, function (and member, sent direct) of an invocation subject, or undefined
   * if it is not one. Parsed once per call where it arrives, by cutting at its dots: one object.
   */
  parseInvocation(subject: string): InvocationAddress | undefined {
    const direct = subject.startsWith(this.rpdDot);
    if (!direct && !subject.startsWith(this.rpcDot)) return undefined;
    // rpc and rpd prefixes have the same length.
    const afterTarget = subject.indexOf(".", this.rpcDot.length);
    const afterMember = direct ? subject.indexOf(".", afterTarget + 1) : afterTarget;
    const beforeFn = afterMember < 0 ? -1 : subject.indexOf(".", afterMember + 1);
    if (afterTarget < 0 || beforeFn < 0 || subject.includes(".", beforeFn + 1)) return undefined;
    const target = subject.slice(this.rpcDot.length, afterTarget);
    const token = subject.slice(afterMember + 1, beforeFn);
    const iface = token === WORLD_TOKEN ? "" : token.replaceAll("~", ".");
    const fn = subject.slice(beforeFn + 1);
    const member = direct ? subject.slice(afterTarget + 1, afterMember) : "";
    return member ? { target, iface, fn, member } : { target, iface, fn };
  }
}

/** What an invocation subject says: whose function is called, and for a direct call, which member's. */
export interface InvocationAddress {
  target: string;
  /** The interface as WIT names it (`~` back to `.`), "" for a world-level function. */
  iface: string;
  fn: string;
  /** Set for a direct call (`rpd`): the member's address. */
  member?: string;
}

/** A member's address: what an invocation server makes up for itself, 12 base-32 letters. */
export const MEMBER_TOKEN = /^[a-z2-7]{12}$/;

function assertMemberToken(member: string): string {
  if (!MEMBER_TOKEN.test(member)) throw new LatticeError(ErrorCode.BadRequest, `invalid member address ${JSON.stringify(member)}`);
  return member;
}

/** Subject token for a world-level function (no interface). */
const WORLD_TOKEN = "_";

/**
 * An interface name as one subject token: WIT names hold no '.', but versions do
 * (`wasi:keyvalue/store@0.2.0-draft`); '.' becomes '~', which neither WIT names nor semver use.
 */
function ifaceToken(iface: string): string {
  if (iface === "") return WORLD_TOKEN;
  if (!/^[a-z0-9-]+:[a-z0-9-]+\/[a-z0-9-]+(@[0-9A-Za-z.+-]+)?$/.test(iface)) {
    throw new LatticeError(ErrorCode.BadRequest, `invalid interface name ${JSON.stringify(iface)}: expected namespace:package/interface[@version]`);
  }
  return iface.replaceAll(".", "~");
}

/** A function (`get-all`, `getAll`), or a resource's method as `resource/method` (`bucket/get`). */
function assertFunctionName(fn: string): string {
  if (!/^[a-z][a-z0-9-]*(\/[a-z][a-z0-9-]*)?$/.test(fn) && !/^[a-z][A-Za-z0-9]*$/.test(fn)) {
    throw new LatticeError(ErrorCode.BadRequest, `invalid function name ${JSON.stringify(fn)}`);
  }
  return fn;
}
