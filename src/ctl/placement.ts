/**
 * Where an actor's instances go: spread over the hosts that qualify, filling the least loaded
 * first, so `--scale 4` on two hosts gives two each. Pure: the control client feeds it what the
 * lattice answered.
 */
import type { Labels } from "../protocol/index.js";

export interface Candidate {
  hostId: string;
  labels: Labels;
  /** Instances of every actor this host runs now: the load to balance. */
  load: number;
  /** Instances of this actor it runs now. */
  current: number;
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
  while (have < total) {
    const pick = ordered.reduce((best, c) => ((load.get(c.hostId) ?? 0) < (load.get(best.hostId) ?? 0) ? c : best));
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
