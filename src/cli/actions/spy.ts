/**
 * What `lattice spy` does: take a lease on the id (members that serve it answer), renew it while
 * it runs, print each call record members publish for the id, and release the lease on the way
 * out. Members publish nothing for an id nobody leases, so a spy costs only while it runs.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { LatticeState } from "../../nats/lattice-state.js";
import { SpyLeaseHolder } from "../../nats/spy.js";
import { ErrorCode, LatticeError, SpyRecord, Subjects, assertTargetId, decode, messageOf, type SpyPresence } from "../../protocol/index.js";
import type { StoreOpts } from "../commands/artifacts.js";
import { openConnection } from "../connect.js";
import { formatBytes, printJsonLine, warn } from "../output.js";

export type SpyOpts = StoreOpts & { wait?: boolean; count?: number };

export async function spy(id: string, opts: SpyOpts): Promise<void> {
  assertTargetId(id);
  const nc = await openConnection(opts, true);
  const subjects = new Subjects(opts.lattice);
  // Subscribed before the lease is taken: no record published under it is missed.
  const sub = nc.subscribe(subjects.spyCalls(id));
  const stop = () => sub.unsubscribe();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  const lease = new SpyLeaseHolder(nc, subjects, id);
  try {
    await nc.flush();
    const present = await lease.take();
    if (present.length > 0) process.stderr.write(`spying on ${id} in lattice ${opts.lattice}: ${servedBy(present)}; Ctrl-C to stop\n`);
    else await nobodyServes(nc, id, opts);
    let seen = 0;
    for await (const m of sub) {
      let rec: SpyRecord;
      try {
        rec = decode(SpyRecord, m.data, "spy record");
      } catch (e) {
        warn(`undecodable spy record: ${messageOf(e)}`);
        continue;
      }
      if (opts.output === "json") printJsonLine(rec);
      else process.stdout.write(callLine(rec));
      if (opts.count !== undefined && ++seen >= opts.count) break;
    }
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    await lease.release();
    await nc.close();
  }
}

/** `served by host NA…, host NB…`, `served by provider kv`. */
function servedBy(present: readonly SpyPresence[]): string {
  return `served by ${present.map((p) => `${p.kind === "actor" ? "host" : "provider"} ${p.by}`).join(", ")}`;
}

/**
 * No member answered: the id may still be linked (its calls show once something serves it),
 * or it names nothing, which is an error unless --wait.
 */
async function nobodyServes(nc: NatsConnection, id: string, opts: SpyOpts): Promise<void> {
  let linked: boolean | undefined;
  try {
    const links = await new LatticeState(nc, opts.lattice, { domain: opts.jsDomain, timeoutMs: opts.timeout }).links();
    linked = links.some((l) => l.source === id || l.target === id);
  } catch (e) {
    warn(`could not read the lattice's links: ${messageOf(e)}`);
  }
  if (linked) return void process.stderr.write(`nothing serves ${id} now (links name it); its calls show once something does. Ctrl-C to stop\n`);
  const what = `nothing in lattice ${opts.lattice} serves ${id}: no host runs it, no provider is it${linked === false ? ", and no link names it" : ""}`;
  if (!opts.wait) throw new LatticeError(ErrorCode.NotFound, `${what} (--wait to wait for it)`);
  process.stderr.write(`${what}; waiting for it (--wait). Ctrl-C to stop\n`);
}

/** `12:30:01.234  in   cli -> echo  acme:demo/echo.echo  0.42ms  96 B/40 B  ok`. */
function callLine(r: SpyRecord): string {
  const time = r.at.slice(11, 23);
  const fn = r.interface ? `${r.interface}.${r.function}` : r.function;
  const ms = r.ms < 10 ? `${r.ms.toFixed(2)}ms` : `${Math.round(r.ms)}ms`;
  const result = r.ok ? "ok" : `error ${r.code ?? "?"}`;
  const attempts = r.attempts && r.attempts > 1 ? `  (${r.attempts} attempts)` : "";
  return `${time}  ${r.direction.padEnd(3)}  ${r.source} -> ${r.target}  ${fn}  ${ms.padStart(8)}  ${formatBytes(r.requestBytes)}/${formatBytes(r.replyBytes)}  ${result}${attempts}\n`;
}
