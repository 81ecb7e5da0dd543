/**
 * The live dashboard (`lattice ui` serves it at /): a lattice client in a page, like the CLI.
 * It connects over NATS WebSocket and follows the lattice's events (hosts, actors scaled,
 * providers, app phases), the state bucket's links as they change, and asks for inventories
 * every two seconds for what events do not carry (load, call counters → calls/s). Actions go
 * through LatticeClient, LatticeState and AppStore (dashboard/controls.ts).
 *
 * The page's state is on <body data-state=…>: connecting, live, reconnecting, refused, failed.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { AppStore } from "../apps/app-store.js";
import { LatticeClient } from "../ctl/index.js";
import { ArtifactStore } from "../nats/artifact-store.js";
import { RESILIENT, redactUrl } from "../nats/connection-options.js";
import { LatticeState, StateCache } from "../nats/lattice-state.js";
import { EVENT_DATA, EventType, formatArtifactRef, schemaProblems, shortEventType, type AnyCloudEvent, type EventData } from "../protocol/index.js";
import { wireControls, errorText } from "./dashboard/controls.js";
import { describeEvent, isBad } from "./dashboard/describe.js";
import { DashboardModel } from "./dashboard/model.js";
import { render } from "./dashboard/view.js";
import { authOptions, joinFailure, pageConfig } from "./page-config.js";
import { connectWebSocket } from "./ws-connect.js";

type PageState = "connecting" | "live" | "reconnecting" | "refused" | "failed";

/** Inventories (load and call counters) are asked for this often. */
const INVENTORY_MS = 2_000;
/** Apps and their status, besides on every app_status event. */
const APPS_MS = 5_000;
const ARTIFACTS_MS = 15_000;

const $ = (id: string) => document.getElementById(id)!;

function show(state: PageState, text: string): void {
  document.body.dataset.state = state;
  $("status").textContent = text;
}

/** Runs `fn` at most once at a time; a call while it runs runs it once more afterwards. */
function coalesced(fn: () => Promise<void>, onError: (e: unknown) => void): () => void {
  let running = false;
  let again = false;
  const go = (): void => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    void fn()
      .catch(onError)
      .finally(() => {
        running = false;
        if (again) {
          again = false;
          go();
        }
      });
  };
  return go;
}

function known<T extends EventType>(event: AnyCloudEvent, type: T): EventData<T> | undefined {
  return shortEventType(event.type) === type && schemaProblems(EVENT_DATA[type], event.data).length === 0 ? (event.data as EventData<T>) : undefined;
}

async function main(): Promise<void> {
  show("connecting", "connecting…");
  let nc: NatsConnection;
  let lattice: string;
  try {
    const config = await pageConfig(location);
    lattice = config.lattice;
    $("lattice-name").textContent = lattice;
    document.title = `${lattice} · lattice dashboard`;
    nc = await connectWebSocket({ ...RESILIENT, servers: config.servers, ...authOptions(config.auth), name: "lattice dashboard" });
    $("server").textContent = config.servers.map(redactUrl).join(", ");
  } catch (e) {
    const failure = joinFailure(e);
    show(failure.state, failure.text);
    return;
  }

  const model = new DashboardModel();
  const client = new LatticeClient(nc, lattice);
  const state = new LatticeState(nc, lattice, { timeoutMs: 5_000 });
  const apps = new AppStore(nc, lattice, { timeoutMs: 5_000 });
  const artifacts = new ArtifactStore(nc, lattice, { timeoutMs: 5_000 });

  let frame = 0;
  const draw = () => {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      render(model);
    });
  };
  // What failed last of each kind of refresh, until it works again.
  const problems = new Map<string, string>();
  const showProblems = () => {
    $("problem").hidden = problems.size === 0;
    $("problem").textContent = [...problems].map(([what, text]) => `${what}: ${text}`).join("\n");
  };
  const problem = (what: string) => (e: unknown) => {
    problems.set(what, errorText(e));
    showProblems();
  };
  const fine = (what: string) => {
    if (problems.delete(what)) showProblems();
  };

  const refreshInventories = coalesced(async () => {
    const { replies, errors } = await client.inventories();
    for (const inv of replies) model.seeInventory(inv);
    // A host that answered nothing is not gone: heartbeats (or their absence) say that.
    if (errors.length > 0) problem("inventory")(`a host answered ${errors[0]!.code}: ${errors[0]!.message}`);
    else fine("inventory");
    draw();
  }, problem("inventory"));
  const refreshHost = (hostId: string) =>
    void client
      .inventory(hostId)
      .then((inv) => {
        model.seeInventory(inv);
        draw();
      })
      .catch(() => refreshInventories());
  const refreshApps = coalesced(async () => {
    const records = await apps.records();
    model.apps = await Promise.all(records.map(async (record) => ({ record, status: await apps.status(record.name) })));
    fine("apps");
    draw();
  }, problem("apps"));
  const refreshArtifacts = coalesced(async () => {
    model.artifacts = [...new Set((await artifacts.list()).map((a) => formatArtifactRef(a)))];
    draw();
  }, () => undefined);

  // Events first (next() subscribes), so nothing between the first answers and the subscription is missed.
  const stream = client.events();
  let undecodable = 0;
  const first = stream.next();
  void (async () => {
    for (let r = await first; !r.done; r = await stream.next()) {
      const rec = r.value;
      if ("error" in rec) {
        model.addEvent({ id: `undecodable-${++undecodable}`, time: new Date().toISOString(), type: "undecodable", source: rec.subject, summary: rec.error, error: true });
        draw();
        continue;
      }
      onEvent(rec.event);
    }
  })();

  function onEvent(e: AnyCloudEvent): void {
    const type = shortEventType(e.type);
    const hb = known(e, EventType.HostHeartbeat);
    const started = known(e, EventType.HostStarted);
    const stopped = known(e, EventType.HostStopped);
    const scaled = known(e, EventType.ActorScaled);
    // Described before the model changes, so a leaving host still has its name.
    model.addEvent({ id: e.id, time: e.time, type, source: model.sourceOf(e), summary: describeEvent(e, (id) => model.hostName(id)), error: isBad(e) });
    if (hb) {
      model.seeHost(hb.host, hb.summary);
      if (model.stale(hb.host.id)) refreshHost(hb.host.id);
    } else if (started) {
      model.seeHost(started);
      refreshHost(started.id);
    } else if (stopped) model.removeHost(stopped.id);
    else if (scaled) {
      model.seeScaled(scaled.hostId, scaled.actorId, scaled.ref, scaled.digest, scaled.instances);
      refreshHost(scaled.hostId);
    } else if (type.startsWith("provider_")) {
      const hostId = (e.data as { hostId?: unknown }).hostId;
      if (typeof hostId === "string") refreshHost(hostId);
    } else if (type === EventType.AppStatus) refreshApps();
    draw();
  }

  const links = new StateCache(state, problem("links")).start();
  links.onChange(() => {
    fine("links");
    model.links = links.links();
    draw();
  });

  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") show("reconnecting", `lost NATS at ${redactUrl(s.server)}; reconnecting…`);
      else if (s.type === "reconnect") {
        show("live", "live");
        refreshInventories();
        refreshApps();
      }
    }
  })();

  wireControls({
    lattice,
    client,
    state,
    apps,
    artifacts,
    refresh: () => {
      refreshInventories();
      refreshApps();
      refreshArtifacts();
    },
  });
  (document.getElementById("show-heartbeats") as HTMLInputElement).addEventListener("change", draw);

  show("live", "live");
  refreshInventories();
  refreshApps();
  refreshArtifacts();
  setInterval(refreshInventories, INVENTORY_MS);
  setInterval(refreshApps, APPS_MS);
  setInterval(refreshArtifacts, ARTIFACTS_MS);
  setInterval(() => {
    if (model.expire().length > 0) draw();
    draw(); // uptimes
  }, 1_000);
  addEventListener("pagehide", () => {
    void links.stop();
    void nc.close();
  });
}

void main();
