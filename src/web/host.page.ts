/**
 * The browser host page (`lattice ui` serves it at /host?name=NAME&label=k=v): a full lattice
 * host in a tab. It joins over NATS WebSocket with the label kind=browser, heartbeats from a
 * Worker (a hidden tab keeps its place), runs actors and says goodbye when the page goes away.
 *
 * The page's state is on <body data-state=…> (connecting, running, refused, failed, left) and
 * its host id on data-host-id, for people and for tests alike.
 */
import { DEFAULT_HEARTBEAT_MS, Host } from "../host/index.js";
import { assertLabel, messageOf, type Labels } from "../protocol/index.js";
import { browserActorRuntime } from "./browser-actor-runtime.js";
import { authOptions, joinFailure, pageConfig } from "./page-config.js";
import { pageLogger } from "./page-logger.js";
import { workerTicker } from "./worker-ticker.js";
import { connectWebSocket } from "./ws-connect.js";

type PageState = "connecting" | "running" | "refused" | "failed" | "left";

const $ = (id: string) => document.getElementById(id)!;

function show(state: PageState, text: string): void {
  document.body.dataset.state = state;
  $("status").textContent = text;
}

/** `?label=k=v` (repeatable) over kind=browser. */
function labelsOf(query: URLSearchParams): Labels {
  const labels: Labels = { kind: "browser" };
  for (const pair of query.getAll("label")) {
    const at = pair.indexOf("=");
    if (at <= 0) throw new Error(`label ${JSON.stringify(pair)} is not KEY=VALUE`);
    const [k, v] = [pair.slice(0, at), pair.slice(at + 1)];
    assertLabel(k, v);
    labels[k] = v;
  }
  return labels;
}

function heartbeatOf(query: URLSearchParams): number {
  const text = query.get("heartbeat");
  if (text === null) return DEFAULT_HEARTBEAT_MS;
  const ms = Number(text);
  if (!Number.isInteger(ms) || ms < 100) throw new Error(`heartbeat=${text}: a whole number of milliseconds, at least 100`);
  return ms;
}

function render(host: Host): void {
  const inv = host.inventory();
  $("actors").replaceChildren(
    ...inv.actors.map((a) => {
      const li = document.createElement("li");
      li.textContent = `${a.id} × ${a.instances} (${a.ref})`;
      return li;
    }),
  );
  $("peers").textContent = String(host.view.hosts().length);
}

async function main(): Promise<void> {
  const query = new URLSearchParams(location.search);
  const log = pageLogger($("log"));
  show("connecting", "connecting…");
  let host: Host;
  try {
    const config = await pageConfig(location);
    host = new Host({
      servers: config.servers,
      connect: connectWebSocket,
      connection: authOptions(config.auth),
      lattice: config.lattice,
      name: query.get("name") ?? undefined,
      labels: labelsOf(query),
      heartbeatMs: heartbeatOf(query),
      ticker: workerTicker(new Worker(new URL("./ticker.worker.js", import.meta.url), { type: "module" })),
      logger: log,
      actors: browserActorRuntime(log),
    });
    $("name").textContent = host.name;
    $("lattice").textContent = host.lattice;
    document.title = `${host.name} · lattice host`;
    await host.start();
  } catch (e) {
    const failure = joinFailure(e);
    show(failure.state, failure.text);
    log.error(messageOf(e));
    return;
  }
  document.body.dataset.hostId = host.id;
  $("id").textContent = host.id;
  show("running", `running in lattice ${host.lattice}`);
  render(host);
  setInterval(() => render(host), 1_000);
  // A tab being closed or navigated away: leave at once. A page put in the back/forward cache
  // (persisted) cannot keep its connection either, so it leaves too.
  addEventListener("pagehide", () => {
    void host.leaveNow("page closed");
    show("left", "left the lattice");
  });
}

void main();
