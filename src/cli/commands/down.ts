/** `lattice down`: stop what `lattice up` started, cleanly (host_stopped first, then NATS; what it does: actions/down.ts). */
import { Command, Option } from "commander";
import type { DownOpts } from "../actions/down.js";
import { withLatticeOptions, withOutputOption } from "../lattice-options.js";
import { defaultStateDir } from "../up-state.js";

export function downCommand(): Command {
  const cmd = new Command("down")
    .description("stop the lattice that `lattice up` started (in the background or in another terminal)")
    .addOption(new Option("--state-dir <dir>", "where up recorded its pids").default(defaultStateDir()))
    .action(async (opts: DownOpts) => (await import("../actions/down.js")).down(opts));
  return withOutputOption(withLatticeOptions(cmd));
}
