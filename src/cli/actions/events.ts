/** What `lattice events` does. */
import type { NatsConnection } from "@nats-io/nats-core";
import { LatticeClient } from "../../ctl/index.js";
import { parseServers, redactUrl } from "../../nats/connection-options.js";
import { EVENT_DATA, EventType, isEventType, schemaProblems, shortEventType, type AnyCloudEvent, type EventData } from "../../protocol/index.js";
import { openConnection } from "../connect.js";
import type { LatticeOpts, OutputOpts } from "../lattice-options.js";
import { printJsonLine, warn } from "../output.js";
import { plural } from "../../ctl/wording.js";

export type EventsOpts = LatticeOpts & OutputOpts & { type?: string[]; count?: number };

/** Every host publishes one a second: shown only when asked for by --type. */
const HIDDEN_BY_DEFAULT: ReadonlySet<string> = new Set([EventType.HostHeartbeat]);

export async function events(opts: EventsOpts): Promise<void> {
  const wanted = (type: string) => (opts.type ? opts.type.includes(type) : !HIDDEN_BY_DEFAULT.has(type));
  const nc = await openConnection(opts, true);
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  void announceConnection(nc);
  const client = new LatticeClient(nc, opts.lattice);
  let seen = 0;
  try {
    // Make sure the subscription is live before saying so: scripts wait for this line.
    const stream = client.events(abort.signal);
    const first = stream.next();
    await nc.flush();
    process.stderr.write(`listening for events of lattice ${opts.lattice} on ${parseServers(opts.natsUrl).map(redactUrl).join(",")}\n`);
    for (let r = await first; !r.done; r = await stream.next()) {
      const rec = r.value;
      if ("error" in rec) {
        warn(`undecodable message on ${rec.subject}: ${rec.error}`);
        continue;
      }
      const type = shortEventType(rec.event.type);
      if (!wanted(type)) continue;
      if (opts.output === "json") printJsonLine(rec.event);
      else process.stdout.write(`${rec.event.time}  ${type.padEnd(18)}  ${rec.event.source}  ${summarize(rec.event)}\n`);
      if (opts.count !== undefined && ++seen >= opts.count) break;
    }
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    await nc.close();
  }
}

/** Say on stderr when the stream loses NATS (events published meanwhile are not seen) and when it is back. */
async function announceConnection(nc: NatsConnection): Promise<void> {
  for await (const s of nc.status()) {
    if (s.type === "disconnect") warn(`lost the connection to NATS at ${redactUrl(s.server)}; reconnecting (events published meanwhile are missed)`);
    else if (s.type === "reconnect") process.stderr.write(`reconnected to NATS at ${redactUrl(s.server)}; listening again\n`);
  }
}

type KnownEvent = { [T in EventType]: { type: T; data: EventData<T> } }[EventType];

/** A short human line for an event: who it is about and what changed ("" for a type or data this CLI does not know). */
export function summarize(event: AnyCloudEvent): string {
  const type = shortEventType(event.type);
  // The envelope was checked on receipt, the data not: a newer host may send more, or other data.
  if (!isEventType(type) || schemaProblems(EVENT_DATA[type], event.data).length > 0) return "";
  return describe({ type, data: event.data } as KnownEvent);
}

function describe(e: KnownEvent): string {
  switch (e.type) {
    case EventType.HostStarted:
      return e.data.name;
    case EventType.HostHeartbeat:
      return `${e.data.host.name}: ${plural(e.data.summary.actors, "actor")}, ${plural(e.data.summary.providers, "provider")}`;
    case EventType.HostStopped:
      return e.data.reason;
    case EventType.ActorScaled:
      return `actor ${e.data.actorId} (${e.data.ref}): ${e.data.previous} -> ${plural(e.data.instances, "instance")} on this host`;
    case EventType.ActorStartFailed:
      return `actor ${e.data.actorId} (${e.data.ref}) did not start: ${e.data.error.code}: ${e.data.error.message}`;
    case EventType.ProviderStarted:
      return `provider ${e.data.providerId} (${e.data.ref}): pid ${e.data.pid}`;
    case EventType.ProviderStopped: {
      const d = e.data;
      const exit = d.exitCode === undefined ? "" : d.exitCode === null ? " (killed by a signal)" : ` (exit code ${d.exitCode})`;
      return `provider ${d.providerId} (${d.ref}): ${d.reason}${exit}`;
    }
    case EventType.ProviderHealth:
      return `provider ${e.data.providerId}: ${e.data.healthy ? "healthy" : "unhealthy"}: ${e.data.message}`;
    case EventType.PolicyDenied: {
      const d = e.data;
      const what = [d.kind, d.target, d.ref, d.interface && `${d.interface}${d.function ? `.${d.function}` : ""}`].filter((x) => x).join(" ");
      return `${d.action}${what ? ` ${what}` : ""} denied: ${d.reason}`;
    }
    case EventType.AppStatus: {
      const d = e.data;
      return `app ${d.name} ${d.version ?? "-"}: ${d.phase}${d.reasons.length > 0 ? `: ${d.reasons.join("; ")}` : ""}`;
    }
  }
}
