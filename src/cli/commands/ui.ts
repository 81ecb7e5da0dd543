/**
 * `lattice ui`: serves the dashboard (`/`) and the browser host page (`/host`) from the package,
 * pointed at the lattice's NATS WebSocket listener; the pages are lattice clients themselves
 * (what it does: actions/ui.ts).
 */
import { Command, Option } from "commander";
import type { UiOpts } from "../actions/ui.js";
import { withLatticeOptions, withOutputOption } from "../lattice-options.js";
import { parsePort } from "../parse.js";
import { defaultStateDir } from "../up-state.js";

export function uiCommand(): Command {
  const cmd = new Command("ui")
    .description("serve the live dashboard (/) and the browser host page (/host?name=NAME&label=k=v) for a lattice")
    .addOption(new Option("--port <port>", "HTTP port (0: any free port)").default(8080).argParser(parsePort))
    .addOption(new Option("--bind <address>", "address to listen on").default("127.0.0.1"))
    .addOption(
      new Option("--nats-ws <urls>", "the lattice's NATS WebSocket URL(s), comma-separated (default: what `lattice up` recorded, else ws://127.0.0.1:4223)").env(
        "LATTICE_NATS_WS",
      ),
    )
    .addOption(new Option("--state-dir <dir>", "where `lattice up` recorded its WebSocket URL").default(defaultStateDir()))
    .action(async (opts: UiOpts) => (await import("../actions/ui.js")).ui(opts));
  return withOutputOption(withLatticeOptions(cmd));
}
