/** What `lattice down` does. */
import { isPidAlive, stopPid } from "../../nats/node/server-launcher.js";
import type { LatticeOpts, OutputOpts } from "../lattice-options.js";
import { printJson } from "../output.js";
import { readUpRecord, removeUpRecord } from "../up-state.js";

export type DownOpts = LatticeOpts & OutputOpts & { stateDir: string };

/** Long enough for the host to say goodbye and nats-server to flush JetStream. */
const STOP_TIMEOUT_MS = 10_000;

export async function down(opts: DownOpts): Promise<void> {
  const rec = readUpRecord(opts.stateDir, opts.lattice);
  if (!rec) {
    const msg = `nothing to stop: no lattice ${opts.lattice} was started with \`lattice up\` (state dir ${opts.stateDir})`;
    if (opts.output === "json") return printJson({ lattice: opts.lattice, stopped: false, reason: msg });
    process.stderr.write(msg + "\n");
    return;
  }
  const wasRunning = isPidAlive(rec.pid);
  await stopPid(rec.pid, STOP_TIMEOUT_MS);
  // The up process stops its nats-server itself; this catches one left behind by a crash.
  for (const pid of rec.natsPids ?? (rec.natsPid !== undefined ? [rec.natsPid] : [])) await stopPid(pid, STOP_TIMEOUT_MS);
  removeUpRecord(opts.stateDir, opts.lattice, rec.pid);
  if (opts.output === "json") return printJson({ lattice: opts.lattice, stopped: wasRunning, pid: rec.pid, natsPid: rec.natsPid });
  process.stdout.write(
    wasRunning ? `lattice ${opts.lattice} stopped (pid ${rec.pid})\n` : `lattice ${opts.lattice} was not running (stale record of pid ${rec.pid} removed)\n`,
  );
}
