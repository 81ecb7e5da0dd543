/**
 * The reconciler's decisions for one app, without I/O: from the app record, its manifest, the
 * last status and what the lattice holds (inventories, links, configs), the commands of a pass in
 * order, and the status draft they fill in. The executor runs the commands and hands each outcome
 * to `recordOutcome`; `finishStatus` then gives the status to write.
 *
 * Phases run in order, and the steps of a phase one after another; the commands of one step run
 * together:
 * - claim: record what the pass is about to create, so nothing it starts is ever orphaned;
 * - up: link configs, then each provider, then each actor: first the hosts that need more or a new
 *   version or config (in place, so the old instances serve until the new ones do), then the hosts
 *   that run more than planned;
 * - relink: links that are missing or point elsewhere;
 * - down: what the app no longer declares (actors and providers some inventory still shows, links,
 *   configs);
 * - forget: the app's records, once it is undeployed and owns nothing.
 */
import {
  formatArtifactRef,
  parseArtifactRef,
  type ActorScaleRequest,
  type AppPhase,
  type AppRecord,
  type AppStatus,
  type ComponentStatus,
  type HostInventory,
  type Link,
  type Manifest,
  type ManifestComponent,
  type NamedConfig,
  type OwnedResources,
} from "../protocol/index.js";
import { canonical } from "./app-store.js";
import { NOTHING, desiredState, isEmpty, minus, specOf, union } from "./desired.js";
import { planComponent, type ComponentPlan, type Refusals } from "./plan.js";

type LinkKey = OwnedResources["links"][number];

/** One operation of a pass. `what` names it in reasons and keys its backoff. */
export type Command =
  /** Write the status with what the pass may create, before it creates any of it. */
  | { kind: "claim"; status: AppStatus }
  | { kind: "put-config"; what: string; name: string; values: Record<string, string> }
  /** Start a provider on a host; `restart`: stop the one running there first (its ref or config changed). */
  | { kind: "start-provider"; what: string; component: string; hostId: string; ref: string; config?: Record<string, string>; restart: boolean }
  | { kind: "stop-provider-on"; what: string; component: string; hostId: string }
  | { kind: "scale-actor"; what: string; component: string; hostId: string; request: ActorScaleRequest }
  | { kind: "put-link"; what: string; link: Omit<Link, "updatedAt"> }
  | { kind: "stop-actor"; what: string; id: string }
  | { kind: "stop-provider"; what: string; id: string }
  | { kind: "unlink"; what: string; link: LinkKey }
  | { kind: "remove-config"; what: string; name: string }
  /** Remove the app's records; only done when the pass leaves it owning nothing. */
  | { kind: "forget" };

export type PhaseName = "claim" | "up" | "relink" | "down" | "forget";

export interface Phase {
  name: PhaseName;
  /** Run one after another; the commands of a step run together. */
  steps: Command[][];
}

/** A component as this pass plans it; `running` and `failures` follow the outcomes. */
export interface ComponentDraft {
  component: ManifestComponent;
  ref: string;
  spec: string;
  previousSpec: string | undefined;
  plan: ComponentPlan;
  /** Instances by host: as the inventories show, then as the commands applied. */
  running: Map<string, number>;
  /** Operations of this pass that failed or are backing off. */
  failures: string[];
  /** Whether every start or scale of this pass succeeded (else the last applied spec stays). */
  applied: boolean;
}

export interface StatusDraft {
  /** The status to write: its reasons, `owned` and phase follow the outcomes. */
  status: AppStatus;
  /** Providers first, then actors, in the manifest's order. */
  components: ComponentDraft[];
}

export interface AppPlan {
  phases: Phase[];
  draft: StatusDraft;
}

export interface PlanInput {
  record: AppRecord;
  /** The deployed version's manifest; undefined when none is deployed or it is missing. */
  manifest: Manifest | undefined;
  /** The app's last written status. */
  previous: AppStatus | undefined;
  /** The last status of every other app: what they own is not this app's to change. */
  others: ReadonlyArray<AppStatus | undefined>;
  hosts: readonly HostInventory[];
  links: readonly Link[];
  configs: readonly NamedConfig[];
  /** Hosts that lately refused to start this component at this ref. */
  refused: (componentId: string, ref: string) => Refusals;
  /** The reconciler writing the status. */
  reconciler: string;
  now: Date;
}

export async function planApp(i: PlanInput): Promise<AppPlan> {
  const { record, manifest, previous, hosts } = i;
  const reasons: string[] = [];
  if (record.deployed && !manifest) reasons.push(`manifest of version ${record.deployed} is missing from the app store`);
  const desired = desiredState(manifest);
  const owners = i.others.filter((s): s is AppStatus => s !== undefined && s.name !== record.name).map((s) => s.owned);
  const components = (manifest?.components ?? []).filter((c) => {
    const kind = c.actor !== undefined ? "actors" : "providers";
    if (!owners.some((o) => o[kind].includes(c.id))) return true;
    reasons.push(`component ${c.id} belongs to another app`);
    return false;
  });
  const wanted: OwnedResources = {
    ...desired.owned,
    actors: desired.owned.actors.filter((id) => components.some((c) => c.id === id)),
    providers: desired.owned.providers.filter((id) => components.some((c) => c.id === id)),
  };
  const had = previous?.owned ?? NOTHING;
  const owned = union(had, wanted);
  const status: AppStatus = {
    name: record.name,
    version: record.deployed,
    phase: record.deployed ? "reconciling" : "undeploying",
    reasons,
    // Until this pass has looked at them, the components as last seen: a reconciler taking over
    // mid-pass must find what was last applied (their specs), or it would re-apply all.
    components: previous?.components ?? [],
    owned,
    reconciler: i.reconciler,
    updatedAt: i.now.toISOString(),
  };

  const claim: Command[][] = canonical(owned) !== canonical(had) ? [[{ kind: "claim", status: { ...status, reasons: [...reasons] } }]] : [];
  const up: Command[][] = [];
  for (const [name, values] of desired.configs) {
    const have = i.configs.find((c) => c.name === name);
    if (!have || canonical(have.values) !== canonical(values)) up.push([{ kind: "put-config", what: `write config ${name}`, name, values }]);
  }
  const previousSpecs = new Map((previous?.components ?? []).map((c) => [c.id, c.spec]));
  const drafts: ComponentDraft[] = [];
  for (const c of components.filter((x) => x.provider !== undefined)) drafts.push(await planProvider(c, i, previousSpecs.get(c.id), up));
  for (const c of components.filter((x) => x.actor !== undefined)) drafts.push(await planActor(c, i, previousSpecs.get(c.id), up));

  const relink: Command[][] = [];
  for (const l of desired.links) {
    const have = i.links.find((x) => x.source === l.source && x.interface === l.interface && x.name === l.name);
    if (!have || have.target !== l.target || canonical(have.config) !== canonical(l.config)) {
      relink.push([{ kind: "put-link", what: `link ${l.source} to ${l.target} on ${l.interface} (${l.name})`, link: l }]);
    }
  }

  // An actor or provider is gone when no inventory shows it, not when the stop request returns: a
  // host still draining calls answers a stop late, and the gathered replies end without it. What
  // is gone already leaves `owned` now; links and configs leave it once removed.
  const remove = minus(owned, wanted);
  const down: Command[][] = [];
  const gone = { actors: [] as string[], providers: [] as string[] };
  for (const id of remove.actors) {
    if (!hosts.some((h) => h.actors.some((a) => a.id === id))) gone.actors.push(id);
    else down.push([{ kind: "stop-actor", what: `stop actor ${id}`, id }]);
  }
  for (const id of remove.providers) {
    if (!hosts.some((h) => h.providers.some((p) => p.id === id && p.state !== "stopped"))) gone.providers.push(id);
    else down.push([{ kind: "stop-provider", what: `stop provider ${id}`, id }]);
  }
  for (const l of remove.links) down.push([{ kind: "unlink", what: `unlink ${l.source} on ${l.interface} (${l.name})`, link: l }]);
  for (const name of remove.configs) down.push([{ kind: "remove-config", what: `remove config ${name}`, name }]);
  const forget: Command[][] = record.deployed ? [] : [[{ kind: "forget" }]];

  const phases: Phase[] = [
    { name: "claim", steps: claim },
    { name: "up", steps: up },
    { name: "relink", steps: relink },
    { name: "down", steps: down },
    { name: "forget", steps: forget },
  ];
  const kept = { ...owned, actors: owned.actors.filter((x) => !gone.actors.includes(x)), providers: owned.providers.filter((x) => !gone.providers.includes(x)) };
  return { phases, draft: { status: { ...status, owned: kept }, components: drafts } };
}

async function planActor(c: ManifestComponent, i: PlanInput, previousSpec: string | undefined, up: Command[][]): Promise<ComponentDraft> {
  const ref = formatArtifactRef(parseArtifactRef(c.actor!));
  const spec = await specOf(ref, c.config);
  const plan = planComponent(c, i.hosts, i.refused(c.id, ref));
  const running = new Map<string, number>();
  for (const h of i.hosts) {
    const n = h.actors.find((a) => a.id === c.id)?.instances ?? 0;
    if (n > 0) running.set(h.host.id, n);
  }
  const refs = new Map(i.hosts.flatMap((h) => h.actors.filter((a) => a.id === c.id).map((a) => [h.host.id, a.ref] as const)));
  const stale = previousSpec !== spec;
  const scale = (hostId: string, instances: number): Command => ({
    kind: "scale-actor",
    what: `run ${instances} of actor ${c.id} on host ${nameOf(i.hosts, hostId)}`,
    component: c.id,
    hostId,
    request: { actorId: c.id, ref, instances, config: c.config ?? {}, constraints: c.placement?.labels ?? {} },
  });
  // Up first (new hosts, more instances, a new version or config in place), then down.
  const more = [...plan.desired].filter(([h, n]) => (running.get(h) ?? 0) < n || ((running.get(h) ?? 0) > 0 && (refs.get(h) !== ref || stale)));
  const fewer = [...running].filter(([h, n]) => n > (plan.desired.get(h) ?? 0));
  if (more.length > 0) up.push(more.map(([h, n]) => scale(h, n)));
  if (fewer.length > 0) up.push(fewer.map(([h]) => scale(h, plan.desired.get(h) ?? 0)));
  return { component: c, ref, spec, previousSpec, plan, running, failures: [], applied: true };
}

async function planProvider(c: ManifestComponent, i: PlanInput, previousSpec: string | undefined, up: Command[][]): Promise<ComponentDraft> {
  const ref = c.provider!;
  const spec = await specOf(ref, c.config);
  const plan = planComponent(c, i.hosts, i.refused(c.id, ref));
  const entries = new Map(i.hosts.flatMap((h) => h.providers.filter((p) => p.id === c.id && p.state !== "stopped").map((p) => [h.host.id, p] as const)));
  const running = new Map([...entries.keys()].map((h) => [h, 1]));
  const stale = previousSpec !== spec;
  // A provider process cannot change ref or config in place: it is restarted.
  const start = [...plan.desired.keys()].filter((h) => !entries.has(h) || entries.get(h)!.ref !== ref || stale);
  const stop = [...entries.keys()].filter((h) => !plan.desired.has(h));
  if (start.length > 0) {
    up.push(
      start.map((hostId): Command => {
        const had = entries.get(hostId);
        return {
          kind: "start-provider",
          what: `start provider ${c.id} on host ${nameOf(i.hosts, hostId)}`,
          component: c.id,
          hostId,
          ref,
          ...(c.config ? { config: c.config } : {}),
          restart: had !== undefined && (had.ref !== ref || stale),
        };
      }),
    );
  }
  if (stop.length > 0) up.push(stop.map((hostId): Command => ({ kind: "stop-provider-on", what: `stop provider ${c.id} on host ${nameOf(i.hosts, hostId)}`, component: c.id, hostId })));
  return { component: c, ref, spec, previousSpec, plan, running, failures: [], applied: true };
}

function nameOf(hosts: readonly HostInventory[], hostId: string): string {
  return hosts.find((h) => h.host.id === hostId)?.host.name ?? hostId;
}

/** How one command went: done, or not (it failed or is backing off), with the reason to show. */
export type Outcome = { ok: true } | { ok: false; reason: string };

/** Fold one command's outcome into the draft. */
export function recordOutcome(draft: StatusDraft, cmd: Command, outcome: Outcome): void {
  const component = "component" in cmd ? draft.components.find((d) => d.component.id === cmd.component) : undefined;
  if (!outcome.ok) {
    if (component) {
      component.failures.push(outcome.reason);
      if (cmd.kind !== "stop-provider-on") component.applied = false;
    } else draft.status.reasons.push(outcome.reason);
    return;
  }
  const owned = draft.status.owned;
  switch (cmd.kind) {
    case "scale-actor":
      component?.running.set(cmd.hostId, cmd.request.instances);
      break;
    case "start-provider":
      component?.running.set(cmd.hostId, 1);
      break;
    case "stop-provider-on":
      component?.running.delete(cmd.hostId);
      break;
    case "unlink":
      draft.status.owned = { ...owned, links: owned.links.filter((l) => canonical(l) !== canonical(cmd.link)) };
      break;
    case "remove-config":
      draft.status.owned = { ...owned, configs: owned.configs.filter((x) => x !== cmd.name) };
      break;
    default:
  }
}

/** Whether the pass may forget the app: it is undeployed and owns nothing any more. */
export function mayForget(draft: StatusDraft): boolean {
  return draft.status.version === null && isEmpty(draft.status.owned);
}

/** The status to write once the commands have run: per component and host, and the app's phase. */
export function finishStatus(draft: StatusDraft): AppStatus {
  const components = draft.components.map(componentStatus);
  const status = { ...draft.status, components };
  return { ...status, phase: phaseOf(status, draft.components) };
}

function componentStatus(d: ComponentDraft): ComponentStatus {
  const positive = (m: Map<string, number>) => Object.fromEntries([...m].filter(([, n]) => n > 0).sort(([a], [b]) => a.localeCompare(b)));
  const spec = d.applied ? d.spec : d.previousSpec;
  return {
    id: d.component.id,
    kind: d.component.actor !== undefined ? "actor" : "provider",
    ref: d.ref,
    ...(spec ? { spec } : {}),
    desired: positive(d.plan.desired),
    running: positive(d.running),
    // Skipped hosts are said, not failures.
    reasons: [...d.plan.reasons, ...d.failures, ...d.plan.skipped].slice(0, 64),
  };
}

/** A failing operation outranks an unplaceable share, which outranks work in progress. */
function phaseOf(s: AppStatus, drafts: ComponentDraft[]): AppPhase {
  if (s.version === null) return "undeploying";
  if (s.reasons.length > 0 || drafts.some((d) => d.failures.length > 0)) return "failed";
  if (drafts.some((d) => d.plan.reasons.length > 0)) return "unsatisfied";
  return s.components.every((c) => canonical(c.desired) === canonical(c.running)) ? "deployed" : "reconciling";
}
