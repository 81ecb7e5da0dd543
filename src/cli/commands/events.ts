/** `lattice events`: stream the lattice's events. */
import { Command, Option } from "commander";
import { LatticeClient } from "../../ctl/index.js";
import { shortEventType } from "../../protocol/index.js";
import { openConnection, withLatticeOptions, withOutputOption, type LatticeOpts, type OutputOpts } from "../lattice-options.js";
import { printJsonLine } from "../output.js";
import { parsePositiveInt } from "../parse.js";

type EventsOpts = LatticeOpts & OutputOpts & { type?: string[]; count?: number };

export function eventsCommand(): Command {
  const cmd = new Command("events")
    .description("stream lattice events as they happen (Ctrl-C to stop); JSON output is one CloudEvent per line")
    .addOption(new Option("--type <type...>", "only these event types (e.g. host_started host_stopped)"))
    .addOption(new Option("--count <n>", "exit after this many events").argParser(parsePositiveInt))
    .action(async (opts: EventsOpts) => {
      const nc = await openConnection(opts, true);
      const abort = new AbortController();
      const stop = () => abort.abort();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      const client = new LatticeClient(nc, opts.lattice);
      let seen = 0;
      try {
        // Make sure the subscription is live before saying so: scripts wait for this line.
        const stream = client.events(abort.signal);
        const first = stream.next();
        await nc.flush();
        process.stderr.write(`listening for events of lattice ${opts.lattice} on ${opts.natsUrl}\n`);
        for (let r = await first; !r.done; r = await stream.next()) {
          const rec = r.value;
          if ("error" in rec) {
            process.stderr.write(`warning: undecodable message on ${rec.subject}: ${rec.error}\n`);
            continue;
          }
          const type = shortEventType(rec.event.type);
          if (opts.type && !opts.type.includes(type)) continue;
          if (opts.output === "json") printJsonLine(rec.event);
          else process.stdout.write(`${rec.event.time}  ${type.padEnd(16)}  ${rec.event.source}  ${summarize(rec.event.data)}\n`);
          if (opts.count !== undefined && ++seen >= opts.count) break;
        }
      } finally {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
        await nc.close();
      }
    });
  return withOutputOption(withLatticeOptions(cmd));
}

/** A short human line for an event's data: a name when there is one. */
function summarize(data: unknown): string {
  if (data && typeof data === "object") {
    const d = data as Record<string, unknown>;
    const host = (d.host ?? d) as Record<string, unknown>;
    if (typeof host.name === "string") return host.name;
    if (typeof d.reason === "string") return d.reason;
  }
  return "";
}
