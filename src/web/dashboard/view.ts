/**
 * Drawing the model into the page. Lists are updated in place by key (dom.ts `keyed`), so a
 * scale input someone is typing into survives the next refresh. Every row carries its id in a
 * data attribute (`data-host-id`, `data-actor-id`, `data-provider-id`, `data-link`, `data-app`)
 * and its numbers in others (`data-count`, `data-rate`, `data-phase`), for tests and scripts.
 */
import { DEFAULT_LINK_NAME, type AppStatus, type Link } from "../../protocol/index.js";
import { data, h, keyed, text } from "./dom.js";
import { linkId, renderGraph, type NodeKind } from "./graph.js";
import { formatRate, formatUptime, type ActorRow, type AppRow, type DashboardModel, type EventRow, type HostState, type ProviderRow } from "./model.js";

const $ = (id: string) => document.getElementById(id)!;

export function isBrowserHost(h: HostState): boolean {
  return h.info.labels["kind"] === "browser";
}

function labelChips(labels: Record<string, string>): HTMLElement[] {
  return Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => h("span", { class: `chip${k === "kind" && v === "browser" ? " chip-browser" : ""}`, "data-label": k }, `${k}=${v}`));
}

function renderHosts(model: DashboardModel): void {
  const hosts = model.hostList();
  text($("hosts-count"), String(hosts.length));
  $("hosts-empty").hidden = hosts.length > 0;
  keyed(
    $("hosts"),
    hosts,
    (x) => x.info.id,
    () => h("li", { class: "host" }, h("div", { class: "host-head" }, h("span", { class: "host-icon" }), h("strong", { class: "host-name" }), h("span", { class: "host-kind" })), h("div", { class: "host-id mono" }), h("div", { class: "labels" }), h("div", { class: "host-meta" })),
    (li, x) => {
      const browser = isBrowserHost(x);
      data(li, "hostId", x.info.id);
      data(li, "kind", browser ? "browser" : "server");
      li.classList.toggle("host-browser", browser);
      text(li.querySelector(".host-icon")!, browser ? "◧" : "▣");
      text(li.querySelector(".host-name")!, x.info.name);
      text(li.querySelector(".host-kind")!, browser ? "browser" : "");
      text(li.querySelector(".host-id")!, x.info.id);
      const labels = li.querySelector(".labels")!;
      const want = JSON.stringify(x.info.labels);
      if ((labels as HTMLElement).dataset["labels"] !== want) {
        labels.replaceChildren(...labelChips(x.info.labels));
        (labels as HTMLElement).dataset["labels"] = want;
      }
      const actors = x.inventory?.actors.reduce((n, a) => n + a.instances, 0) ?? 0;
      const kinds = x.inventory?.actors.length ?? x.summary?.actors ?? 0;
      const providers = x.inventory?.providers.length ?? x.summary?.providers ?? 0;
      text(li.querySelector(".host-meta")!, `${kinds} actor${kinds === 1 ? "" : "s"} (${actors} inst.) · ${providers} provider${providers === 1 ? "" : "s"} · up ${formatUptime(model.uptime(x))} · v${x.info.version}`);
    },
  );
  // Where a start may go.
  const select = $("start-host") as HTMLSelectElement;
  const options = [{ id: "", name: "any host that qualifies" }, ...hosts.map((x) => ({ id: x.info.id, name: `${x.info.name}${isBrowserHost(x) ? " (browser)" : ""}` }))];
  keyed(
    select,
    options,
    (o) => o.id,
    (o) => h("option", { value: o.id }),
    (el, o) => text(el, o.name),
  );
}

function renderActors(model: DashboardModel, actors: ActorRow[]): void {
  $("actors-empty").hidden = actors.length > 0;
  text($("actors-count"), String(actors.length));
  keyed(
    $("actors-body"),
    actors,
    (a) => a.id,
    (a) =>
      h(
        "tr",
        { "data-actor-id": a.id },
        h("td", { class: "id" }, h("strong", {}, a.id)),
        h("td", { class: "ref mono" }),
        h("td", { class: "per-host" }),
        h("td", { class: "count num" }),
        h("td", { class: "rate num" }),
        h(
          "td",
          { class: "act" },
          h("input", { type: "number", min: 0, max: 1000, class: "scale-input", "data-scale": a.id, "aria-label": `instances of ${a.id}`, value: a.total }),
          h("button", { type: "button", "data-action": "scale", title: `scale ${a.id} to this many instances` }, "Scale"),
          h("button", { type: "button", "data-action": "stop", class: "danger", title: `stop ${a.id} everywhere` }, "Stop"),
        ),
      ),
    (tr, a) => {
      data(tr, "count", String(a.total));
      data(tr, "ref", a.ref);
      data(tr, "rate", a.rate === undefined ? "" : a.rate.toFixed(2));
      text(tr.querySelector(".ref")!, a.ref);
      const count = tr.querySelector<HTMLElement>(".count")!;
      text(count, String(a.total));
      data(count, "count", String(a.total));
      text(tr.querySelector(".rate")!, formatRate(a.rate));
      keyed(
        tr.querySelector(".per-host")!,
        a.hosts,
        (x) => x.hostId,
        () => h("span", { class: "chip host-count" }),
        (el, x) => {
          data(el, "hostId", x.hostId);
          data(el, "count", String(x.instances));
          el.classList.toggle("chip-browser", model.hosts.get(x.hostId) !== undefined && isBrowserHost(model.hosts.get(x.hostId)!));
          el.title = `busy ${x.busy}, queued ${x.queued}`;
          text(el, `${x.hostName} ×${x.instances}${x.busy > 0 ? ` · ${x.busy} busy` : ""}`);
        },
      );
      // What the user typed stays until they scale; otherwise the input follows the count.
      const input = tr.querySelector<HTMLInputElement>(".scale-input")!;
      if (input.dataset["dirty"] !== "1" && document.activeElement !== input) input.value = String(a.total);
    },
  );
}

function renderProviders(providers: ProviderRow[]): void {
  $("providers-empty").hidden = providers.length > 0;
  text($("providers-count"), String(providers.length));
  keyed(
    $("providers-body"),
    providers,
    (p) => `${p.entry.id} ${p.hostId}`,
    (p) => h("tr", { "data-provider-id": p.entry.id, "data-host-id": p.hostId }, h("td", { class: "id" }, h("strong", {}, p.entry.id)), h("td", { class: "ref mono" }), h("td", { class: "host-cell" }), h("td", { class: "state" })),
    (tr, p) => {
      data(tr, "state", p.entry.state);
      text(tr.querySelector(".ref")!, p.entry.ref);
      text(tr.querySelector(".host-cell")!, p.hostName);
      const state = tr.querySelector<HTMLElement>(".state")!;
      text(state, `${p.entry.state}${p.entry.health.healthy ? "" : ` · unhealthy: ${p.entry.health.message}`}${p.entry.restarts > 0 ? ` · ${p.entry.restarts} restarts` : ""}`);
      state.className = `state state-${p.entry.health.healthy && p.entry.state === "running" ? "ok" : "bad"}`;
    },
  );
}

function renderLinks(model: DashboardModel, actors: ActorRow[], providers: ProviderRow[]): void {
  const links = [...model.links].sort((a, b) => a.source.localeCompare(b.source) || a.interface.localeCompare(b.interface) || a.name.localeCompare(b.name));
  $("links-empty").hidden = links.length > 0;
  text($("links-count"), String(links.length));
  const actorIds = new Set(actors.map((a) => a.id));
  const providerIds = new Set(providers.map((p) => p.entry.id));
  const kindOf = (id: string): NodeKind => (actorIds.has(id) ? "actor" : providerIds.has(id) ? "provider" : "unknown");
  const graph = $("graph");
  // The graph is redrawn only when what it shows changes.
  const key = JSON.stringify(links.map((l) => [linkId(l), l.target, l.config, kindOf(l.source), kindOf(l.target)]));
  if (graph.dataset["key"] !== key) {
    graph.replaceChildren(...(links.length > 0 ? [renderGraph(links, kindOf)] : []));
    graph.dataset["key"] = key;
  }
  keyed(
    $("links-body"),
    links,
    linkId,
    (l: Link) =>
      h(
        "tr",
        { "data-link": linkId(l) },
        h("td", { class: "mono" }, l.source),
        h("td", { class: "arrow" }, "→"),
        h("td", { class: "target mono" }),
        h("td", { class: "mono" }, l.interface, l.name === DEFAULT_LINK_NAME ? "" : h("span", { class: "muted" }, ` (${l.name})`)),
        h("td", { class: "config" }),
        h("td", { class: "act" }, h("button", { type: "button", "data-action": "unlink", class: "danger", title: "delete this link" }, "Delete")),
      ),
    (tr, l) => {
      data(tr, "target", l.target);
      text(tr.querySelector(".target")!, l.target);
      text(tr.querySelector(".config")!, l.config.join(", "));
    },
  );
  // Ids a link form can name.
  keyed(
    $("target-ids"),
    [...new Set([...actorIds, ...providerIds])].sort(),
    (id) => id,
    (id) => h("option", { value: id }),
    () => undefined,
  );
}

function counts(s: AppStatus): string {
  const sum = (m: Record<string, number>) => Object.values(m).reduce((n, x) => n + x, 0);
  return `${s.components.reduce((n, c) => n + sum(c.running), 0)}/${s.components.reduce((n, c) => n + sum(c.desired), 0)}`;
}

function renderApps(apps: AppRow[]): void {
  $("apps-empty").hidden = apps.length > 0;
  text($("apps-count"), String(apps.length));
  keyed(
    $("apps-body"),
    apps,
    (a) => a.record.name,
    (a) =>
      h(
        "tr",
        { "data-app": a.record.name },
        h("td", { class: "id" }, h("strong", {}, a.record.name)),
        h("td", { class: "version mono" }),
        h("td", {}, h("span", { class: "phase" })),
        h("td", { class: "instances num" }),
        h("td", { class: "reasons" }),
        h("td", { class: "act" }, h("button", { type: "button", "data-action": "undeploy", class: "danger", title: "remove the app and what it created" }, "Undeploy")),
      ),
    (tr, a) => {
      const phase = a.status?.phase ?? "pending";
      data(tr, "phase", phase);
      data(tr, "version", a.record.deployed ?? "");
      text(tr.querySelector(".version")!, a.record.deployed ?? "(undeploying)");
      const p = tr.querySelector<HTMLElement>(".phase")!;
      text(p, phase);
      p.className = `phase phase-${phase}`;
      text(tr.querySelector(".instances")!, a.status ? counts(a.status) : "–");
      const reasons = a.status ? [...a.status.reasons, ...a.status.components.flatMap((c) => c.reasons.map((r) => `${c.id}: ${r}`))] : [];
      text(tr.querySelector(".reasons")!, reasons.slice(0, 3).join("; "));
    },
  );
}

function renderEvents(model: DashboardModel): void {
  const all = (document.getElementById("show-heartbeats") as HTMLInputElement | null)?.checked ?? false;
  const events = all ? model.events : model.events.filter((e) => e.type !== "host_heartbeat");
  keyed(
    $("events"),
    events.slice(0, 100),
    (e) => e.id,
    (e: EventRow) =>
      h(
        "li",
        { class: `event${e.error ? " event-bad" : ""}`, "data-type": e.type },
        h("time", { class: "mono", datetime: e.time }, e.time.slice(11, 19)),
        h("span", { class: `event-type type-${e.type}` }, e.type),
        h("span", { class: "event-text" }, e.summary),
        h("span", { class: "event-source muted" }, e.source),
      ),
    () => undefined,
  );
}

export function render(model: DashboardModel): void {
  const actors = model.actors();
  const providers = model.providers();
  renderHosts(model);
  renderActors(model, actors);
  renderProviders(providers);
  renderLinks(model, actors, providers);
  renderApps(model.apps);
  renderEvents(model);
  const instances = actors.reduce((n, a) => n + a.total, 0);
  const rate = actors.reduce<number | undefined>((n, a) => (a.rate === undefined ? n : (n ?? 0) + a.rate), undefined);
  text($("totals"), `${model.hosts.size} hosts · ${instances} actor instances · ${formatRate(rate)}`);
  keyed(
    $("artifact-refs"),
    model.artifacts,
    (r) => r,
    (r) => h("option", { value: r }),
    () => undefined,
  );
}
