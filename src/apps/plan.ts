/**
 * Where each component of a manifest should run, given the hosts that answered: instance counts
 * by host, and the reasons when the placement cannot be met. Pure. Placements keep what already
 * runs where they can, so a new pass after a host loss only adds what the loss took. Hosts that
 * refuse the component (by what they advertise, or as they answered a start) are passed over.
 */
import { actorRefusal, matches, providerRefusal, rankForProvider, signerOf, spread, type Candidate } from "../ctl/placement.js";
import { plural } from "../ctl/wording.js";
import { formatArtifactRef, labelText, parseArtifactRef, type HostInventory, type Labels, type ManifestComponent } from "../protocol/index.js";
import { parseSelector } from "./manifest.js";

export interface ComponentPlan {
  /** Instances by host id (hosts with 0 left out). */
  desired: Map<string, number>;
  /** Why the placement falls short (no matching host, too few hosts…). */
  reasons: string[];
  /** Matching hosts passed over because they refuse the component, each with why. */
  skipped: string[];
}

/** Hosts that refused to start the component when asked, by id, with their answer. */
export type Refusals = ReadonlyMap<string, string>;

export function planComponent(c: ManifestComponent, hosts: readonly HostInventory[], refused: Refusals = new Map()): ComponentPlan {
  return c.actor !== undefined ? planActor(c, hosts, refused) : planProvider(c, hosts, refused);
}

/** The hosts with the placement's labels, split into those that take the component and the skipped. */
function eligible(hosts: readonly HostInventory[], labels: Labels, why: (h: HostInventory) => string | undefined): { base: HostInventory[]; matching: HostInventory[]; skipped: string[] } {
  const matching = hosts.filter((h) => matches(h.host.labels, labels));
  const skipped: string[] = [];
  const base = matching.filter((h) => {
    const reason = why(h);
    if (reason !== undefined) skipped.push(`host ${h.host.name} skipped: ${reason}`);
    return reason === undefined;
  });
  return { base, matching, skipped };
}

function planActor(c: ManifestComponent, hosts: readonly HostInventory[], refused: Refusals): ComponentPlan {
  const p = c.placement ?? {};
  const ref = formatArtifactRef(parseArtifactRef(c.actor!));
  const signer = signerOf(ref, hosts.flatMap((h) => h.actors.filter((a) => a.id === c.id)));
  const { base, matching, skipped } = eligible(hosts, p.labels ?? {}, (h) => actorRefusal(h.host, ref, signer) ?? refused.get(h.host.id));
  const desired = new Map<string, number>();
  const reasons: string[] = [];
  if (p.daemon) {
    for (const h of base) desired.set(h.host.id, p.daemon.instances ?? 1);
    return { desired, reasons, skipped };
  }
  const total = p.spread?.instances ?? 1;
  const shares = p.spread?.weights ? weightedShares(p.spread.weights, total) : [{ labels: {}, instances: total }];
  // Instances already running are credited to the shares in order, so overlapping shares do not
  // count the same instance twice.
  const unclaimed = new Map(hosts.map((h) => [h.host.id, h.actors.find((a) => a.id === c.id)?.instances ?? 0]));
  for (const share of shares) {
    if (share.instances === 0) continue;
    const candidates: Candidate[] = base
      .filter((h) => matches(h.host.labels, share.labels))
      .map((h) => ({
        hostId: h.host.id,
        labels: h.host.labels,
        load: h.actors.reduce((n, a) => n + a.instances, 0) + (desired.get(h.host.id) ?? 0),
        current: Math.min(unclaimed.get(h.host.id) ?? 0, share.instances),
      }));
    if (candidates.length === 0) {
      const labels = { ...(p.labels ?? {}), ...share.labels };
      const any = Object.keys(labels).length === 0;
      let why: string;
      if (matching.some((h) => matches(h.host.labels, share.labels))) why = any ? "every host refuses it" : `every host that matches ${labelText(labels)} refuses it`;
      else why = any ? "the lattice has no host" : `no host matches ${labelText(labels)}`;
      reasons.push(`${plural(share.instances, "instance")} unplaced: ${why}`);
      continue;
    }
    for (const [hostId, n] of spread(candidates, share.instances)) {
      if (n === 0) continue;
      desired.set(hostId, (desired.get(hostId) ?? 0) + n);
      unclaimed.set(hostId, Math.max(0, (unclaimed.get(hostId) ?? 0) - n));
    }
  }
  return { desired, reasons, skipped };
}

function planProvider(c: ManifestComponent, hosts: readonly HostInventory[], refused: Refusals): ComponentPlan {
  const p = c.placement ?? {};
  const { base, matching, skipped } = eligible(hosts, p.labels ?? {}, (h) => providerRefusal(h.host) ?? refused.get(h.host.id));
  const desired = new Map<string, number>();
  if (p.daemon) {
    for (const h of base) desired.set(h.host.id, 1);
    return { desired, reasons: [], skipped };
  }
  const wanted = p.spread?.instances ?? 1;
  const ranked = rankForProvider(base, (h) => h.providers.some((x) => x.id === c.id && x.state !== "stopped"));
  for (const h of ranked.slice(0, wanted)) desired.set(h.host.id, 1);
  const labels = p.labels ?? {};
  const found = Object.keys(labels).length === 0 ? `the lattice has ${matching.length}` : `${matching.length} ${matching.length === 1 ? "matches" : "match"} ${labelText(labels)}`;
  const takers = base.length < matching.length ? `, ${base.length} of them ${base.length === 1 ? "takes" : "take"} it` : "";
  const reasons = base.length < wanted ? [`wants ${plural(wanted, "host")}, ${found}${takers}`] : [];
  return { desired, reasons, skipped };
}

/** Split `total` by weight (largest remainder), in the weights' order. */
export function weightedShares(weights: Record<string, number>, total: number): Array<{ labels: Labels; instances: number }> {
  const entries = Object.entries(weights);
  const sum = entries.reduce((n, [, w]) => n + w, 0);
  if (sum === 0) return [];
  const exact = entries.map(([selector, w]) => ({ labels: parseSelector(selector), exact: (total * w) / sum }));
  const shares = exact.map((e) => ({ labels: e.labels, instances: Math.floor(e.exact) }));
  let left = total - shares.reduce((n, s) => n + s.instances, 0);
  const byRemainder = exact.map((e, i) => ({ i, r: e.exact - Math.floor(e.exact) })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (const { i } of byRemainder) {
    if (left === 0) break;
    shares[i]!.instances++;
    left--;
  }
  return shares;
}

