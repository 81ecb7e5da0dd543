/** `lattice logs`: the log records of the lattice's actors and providers (what it does: actions/logs.ts). */
import { Command, InvalidArgumentError, Option } from "commander";
import type { LogsOpts } from "../actions/logs.js";
import { isLatticeError } from "../../protocol/errors.js";
import { LOG_RECORD_LEVELS } from "../../protocol/log-levels.js";
import { assertTargetId } from "../../protocol/names.js";
import { withLatticeOptions, withOutputOption } from "../lattice-options.js";
import { parseDuration } from "../parse.js";
import { withJsDomainOption } from "./artifacts.js";

function sourceId(value: string): string {
  try {
    return assertTargetId(value);
  } catch (e) {
    throw new InvalidArgumentError(isLatticeError(e) ? e.message : String(e));
  }
}

function tail(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a whole number of records (0 or more), got ${JSON.stringify(value)}`);
  return n;
}

export function logsCommand(): Command {
  const cmd = new Command("logs")
    .description("show the recent log records of the lattice's actors and providers, or of one, and with --follow those that come after; JSON output is one record per line")
    .argument("[id]", "only the records of this actor or provider", sourceId)
    .option("-f, --follow", "keep showing records as they come (Ctrl-C to stop)")
    .addOption(new Option("-n, --tail <n>", "how many of the kept records to show first (default 100, or all of --since's)").argParser(tail))
    .addOption(new Option("--since <duration>", "only records of the last duration (30s, 5m, 1h)").argParser(parseDuration))
    .addOption(new Option("--host <host>", "only records of this host (its id, or its name)"))
    .addOption(new Option("--level <level>", "only records at this level or above").choices(LOG_RECORD_LEVELS))
    .action(async (id: string | undefined, opts: LogsOpts) => (await import("../actions/logs.js")).logs(id, opts));
  return withJsDomainOption(withOutputOption(withLatticeOptions(cmd)));
}
