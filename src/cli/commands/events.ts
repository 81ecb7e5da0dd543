/** `lattice events`: stream the lattice's events (what it does: actions/events.ts). */
import { Command, Option } from "commander";
import type { EventsOpts } from "../actions/events.js";
import { EventType } from "../../protocol/event-types.js";
import { withLatticeOptions, withOutputOption } from "../lattice-options.js";
import { parsePositiveInt } from "../parse.js";

const EVENT_TYPES: string[] = Object.values(EventType);

export function eventsCommand(): Command {
  const cmd = new Command("events")
    .description("stream lattice events as they happen (Ctrl-C to stop); JSON output is one CloudEvent per line")
    .addOption(
      new Option("--type <type...>", "only these event types (default: all but host_heartbeat)").choices(EVENT_TYPES),
    )
    .addOption(new Option("--count <n>", "exit after this many events").argParser(parsePositiveInt))
    .action(async (opts: EventsOpts) => (await import("../actions/events.js")).events(opts));
  return withOutputOption(withLatticeOptions(cmd));
}
