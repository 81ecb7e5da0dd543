/**
 * Where an actor's instances go: spread over the hosts that qualify, filling the least loaded
 * first, so `--scale 4` on two hosts gives two each. Hosts that say they would refuse (see
 * `HostInfo.accepts`) are passed over before anything is asked; a host that refuses when asked
 * has its share spread again over the others. A host that advertises its memory (`HostInfo.memory`)
 * is given no more instances than fit in what it has free, by what an instance of the actor costs
 * there (or elsewhere, or the host's default estimate). Pure but for the `scale` callback of `place`: the
 * control client and the app reconciler feed it what the lattice answered.
 */
import { ErrorCode, isLatticeError, messageOf, type ActorEntry, type ActorScaleResult, type HostInfo, type HostInventory, type Labels, type WireError } from "../protocol/index.js";

export interface Candidate {
  hostId: string;
  labels: Labels;
  /** Instances of every actor this host runs now: the load to balance. */
  load: number;
  /** Instances of this actor it runs now. */
  current: number;
  /** Instances of this actor it has memory for beyond `current`; absent: no bound known. */
  room?: number;
}

export function matches(labels: Labels, constraints: Labels): boolean {
  return Object.entries(constraints).every(([k, v]) => labels[k] === v);
}

/**
 * The instance count each candidate should run so that they total `total`. Growing adds to the
 * least loaded; shrinking takes from those with the most of this actor. Candidates keep what
 * they have where possible, so a rescale moves as few instances as it can.
 */
export function spread(candidates: readonly Candidate[], total: number): Map<string, number> {
  const plan = new Map(candidates.map((c) => [c.hostId, c.current]));
  const load = new Map(candidates.map((c) => [c.hostId, c.load]));
  let have = candidates.reduce((n, c) => n + c.current, 0);
  const ordered = [...candidates].sort((a, b) => a.hostId.localeCompare(b.hostId));
  const fits = (c: Candidate) => c.room === undefined || (plan.get(c.hostId) ?? 0) - c.current < c.room;
  while (have < total) {
    const open = ordered.filter(fits);
    if (open.length === 0) break; // the rest has no room anywhere: unplaced
    const pick = open.reduce((best, c) => ((load.get(c.hostId) ?? 0) < (load.get(best.hostId) ?? 0) ? c : best));
    plan.set(pick.hostId, (plan.get(pick.hostId) ?? 0) + 1);
    load.set(pick.hostId, (load.get(pick.hostId) ?? 0) + 1);
    have++;
  }
  while (have > total) {
    const pick = ordered.reduce((best, c) => ((plan.get(c.hostId) ?? 0) > (plan.get(best.hostId) ?? 0) ? c : best));
    plan.set(pick.hostId, (plan.get(pick.hostId) ?? 0) - 1);
    have--;
  }
  return plan;
}

/** Who signed an actor's component, as far as the lattice has seen: unknown until a host runs it. */
export type Signer = { issuer: string } | "unsigned" | undefined;

/**
 * The signer of `ref` by the hosts that run it: their entries carry the verified claims of a
 * signed component and none for an unsigned one. Undefined when no host runs it, or they disagree
 * (a `latest` ref that moved between starts).
 */
export function signerOf(ref: string, entries: readonly ActorEntry[]): Signer {
  const seen = new Set(entries.filter((e) => e.ref === ref).map((e) => e.claims?.issuer ?? ""));
  if (seen.size !== 1) return undefined;
  const [issuer] = [...seen];
  return issuer ? { issuer } : "unsigned";
}

/** Why `host` would refuse to start actor `ref`, by what it advertises; undefined when it may take it. */
export function actorRefusal(host: HostInfo, ref: string, signer: Signer): string | undefined {
  const a = host.accepts;
  if (!a) return undefined;
  if (!a.actors) return "it runs no actors";
  if (!a.issuers || signer === undefined) return undefined;
  if (signer === "unsigned") return `it runs only actors signed by ${issuerList(a.issuers)}, and ${ref} is unsigned`;
  if (!a.issuers.includes(signer.issuer)) return `it runs only actors signed by ${issuerList(a.issuers)}, and ${ref} is signed by ${shortKey(signer.issuer)}`;
  return undefined;
}

/** Bytes one more instance of `actorId` is expected to take on `inv`'s host: its own estimate, another host's, else its default. */
export function instanceBytesOn(inv: HostInventory, actorId: string, elsewhere: readonly ActorEntry[]): number | undefined {
  const own = inv.actors.find((a) => a.id === actorId)?.instanceBytes;
  const seen = elsewhere.find((a) => a.id === actorId && a.instanceBytes !== undefined)?.instanceBytes;
  return own ?? seen ?? inv.host.memory?.instanceBytes;
}

/** Instances of `actorId` that fit in what `inv`'s host has free; undefined when it does not say. */
export function memoryRoom(inv: HostInventory, actorId: string, elsewhere: readonly ActorEntry[]): number | undefined {
  const m = inv.host.memory;
  const each = instanceBytesOn(inv, actorId, elsewhere);
  if (!m || !each) return undefined;
  return Math.max(0, Math.floor(m.freeBytes / each));
}

/** Why `inv`'s host has no room for an instance of `actorId`; undefined when it has, or does not say. */
export function memoryRefusal(inv: HostInventory, actorId: string, elsewhere: readonly ActorEntry[]): string | undefined {
  if (memoryRoom(inv, actorId, elsewhere) !== 0) return undefined;
  const mb = (n: number) => Math.round(n / (1024 * 1024));
  return `no memory for an instance: ${mb(inv.host.memory!.freeBytes)} MB free, one needs ~${mb(instanceBytesOn(inv, actorId, elsewhere)!)} MB`;
}

/** Why `host` would refuse to start any provider; undefined when it may take one. */
/**
 * Hosts for a provider, best first: where it runs already (`runs`: a start there is a no-op),
 * then those with the fewest providers, then the fewest actor instances, then by id.
 */
export function rankForProvider(hosts: readonly HostInventory[], runs: (h: HostInventory) => boolean): HostInventory[] {
  const instances = (h: HostInventory) => h.actors.reduce((n, a) => n + a.instances, 0);
  return [...hosts].sort((a, b) => Number(runs(b)) - Number(runs(a)) || a.providers.length - b.providers.length || instances(a) - instances(b) || a.host.id.localeCompare(b.host.id));
}

export function providerRefusal(host: HostInfo): string | undefined {
  return host.accepts && !host.accepts.providers ? "it supervises no providers" : undefined;
}

/**
 * Whether a host's error refuses the start, so another host should be tried: the component's
 * claims or the host's policy forbid it there, or the host has nothing to run it with. Other
 * errors are not retried elsewhere: a missing artifact fails everywhere, and a host that timed
 * out may still be starting the instances.
 */
export function isRefusal(error: WireError): boolean {
  return error.code === ErrorCode.Forbidden || error.code === ErrorCode.Unavailable || error.code === ErrorCode.InsufficientResources;
}

export function toWireError(e: unknown): WireError {
  return isLatticeError(e) ? { code: e.code, message: e.message } : { code: ErrorCode.Internal, message: messageOf(e) };
}

/** Run `instances` instances of the actor on one host (the count it runs after, in the result). */
export type ScaleOnHost = (hostId: string, instances: number) => Promise<ActorScaleResult>;

export interface HostError {
  hostId: string;
  error: WireError;
}

export interface PlaceOutcome {
  /** The last result of each host that changed; `previous` is what it ran before the first change. */
  results: ActorScaleResult[];
  /** Hosts that refused when asked: their share went to the others. */
  refused: HostError[];
  /** Hosts that failed otherwise. */
  errors: HostError[];
  /** Instances no host took. */
  unplaced: number;
}

/**
 * Spread `total` instances over the candidates and ask each host that changes. A host that
 * refuses to grow is dropped (what it runs already stays and counts) and its share spread again
 * over the rest, until every instance has a host or no candidate is left.
 */
export async function place(candidates: readonly Candidate[], total: number, scale: ScaleOnHost): Promise<PlaceOutcome> {
  const all = candidates.map((c) => ({ ...c }));
  const results = new Map<string, ActorScaleResult>();
  const refused: HostError[] = [];
  const errors: HostError[] = [];
  let open = all;
  let want = total;
  while (open.length > 0) {
    const plan = spread(open, want);
    const dropped = new Set<Candidate>();
    await Promise.all(
      open
        .filter((c) => plan.get(c.hostId) !== c.current)
        .map(async (c) => {
          const n = plan.get(c.hostId) ?? 0;
          try {
            const r = await scale(c.hostId, n);
            const first = results.get(c.hostId);
            results.set(c.hostId, first ? { ...r, previous: first.previous } : r);
            c.load += r.actor.instances - c.current;
            c.current = r.actor.instances;
          } catch (e) {
            const error = toWireError(e);
            if (n > c.current && isRefusal(error)) {
              refused.push({ hostId: c.hostId, error });
              dropped.add(c);
            } else errors.push({ hostId: c.hostId, error });
          }
        }),
    );
    if (dropped.size === 0) break;
    for (const c of dropped) want = Math.max(0, want - c.current);
    open = open.filter((c) => !dropped.has(c));
  }
  const placed = all.reduce((n, c) => n + c.current, 0);
  return { results: [...results.values()], refused, errors, unplaced: Math.max(0, total - placed) };
}

function issuerList(keys: readonly string[]): string {
  return keys.length === 0 ? "no issuer" : keys.map(shortKey).join(", ");
}

/** `ABCDEFGH…`: a public key shortened for people. */
export function shortKey(key: string): string {
  return key.length > 12 ? `${key.slice(0, 8)}…` : key;
}
