/**
 * What `lattice logs` does. The lattice's log stream (nats/log-stream.ts) holds the recent records:
 * an ordered consumer over the log subjects that match (one source, one host, or all) reads them
 * from far enough back for the last --tail (or from --since), and with --follow it goes on
 * reading as records arrive. It follows subjects, not a host: a host that restarts, or
 * another that starts the same actor, is followed as before. Without the stream (JetStream off or
 * unreachable) there is no history, and --follow reads the live records from a plain subscription.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { DeliverPolicy, jetstreamManager, type Consumer, type ConsumerMessages, type JsMsg } from "@nats-io/jetstream";
import { LatticeClient } from "../../ctl/index.js";
import { redactUrl } from "../../nats/connection-options.js";
import { ErrorCode, LatticeError, Subjects, messageOf, schemaProblems } from "../../protocol/index.js";
import { LogBatch, atLeast, logStreamName, type LogRecord, type LogRecordLevel } from "../../protocol/log-records.js";
import { HOST_ID_PATTERN } from "../../protocol/names.js";
import type { JsDomainOpts } from "../commands/artifacts.js";
import { openConnection } from "../connect.js";
import type { LatticeOpts, OutputOpts } from "../lattice-options.js";
import { printJsonLine, warn } from "../output.js";

export type LogsOpts = LatticeOpts &
  OutputOpts &
  JsDomainOpts & { follow?: boolean; tail?: number; since?: number; host?: string; level?: LogRecordLevel };

/** Records shown from the stream when neither --tail nor --since says. */
const DEFAULT_TAIL = 100;

export async function logs(id: string | undefined, opts: LogsOpts): Promise<void> {
  const follow = opts.follow === true;
  const nc = await openConnection(opts, follow);
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    const subjects = new Subjects(opts.lattice);
    const hostId = opts.host === undefined ? undefined : await resolveHost(nc, opts.lattice, opts.host);
    const filter = subjects.logFilter(hostId, id);
    const show = printer(opts);
    const history = await openHistory(nc, opts, filter);
    if (follow) void announceConnection(nc, "missing" in history);
    if ("missing" in history) {
      if (!follow) throw new LatticeError(ErrorCode.Unavailable, `no log history in lattice ${opts.lattice}: ${history.missing}; lattice logs --follow shows records as they come`);
      warn(`no log history: ${history.missing}; following live records only`);
      await followLive(nc, filter, show, abort.signal);
    } else {
      await readStream(history, opts, show, abort.signal, () => {
        if (follow) announce(opts, id, hostId);
      });
    }
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    await nc.close();
  }
}

type Show = (records: LogRecord[]) => void;

/** Say on stderr when a follow loses NATS and when it is back (from a stream it misses nothing; live only, what came meanwhile). */
async function announceConnection(nc: NatsConnection, liveOnly: boolean): Promise<void> {
  for await (const s of nc.status()) {
    if (s.type === "disconnect") warn(`lost the connection to NATS at ${redactUrl(s.server)}; reconnecting${liveOnly ? " (records published meanwhile are missed)" : ""}`);
    else if (s.type === "reconnect") process.stderr.write(`reconnected to NATS at ${redactUrl(s.server)}; following again\n`);
  }
}

/** The records of a batch that pass --level, as the lines of their output format. */
function printer(opts: LogsOpts): Show {
  const level = opts.level;
  return (records) => {
    for (const r of records) {
      if (level && !atLeast(r.level, level)) continue;
      if (opts.output === "json") printJsonLine(r);
      else process.stdout.write(`${textLine(r)}\n`);
    }
  };
}

/** time, host, source, level, [context] message {fields}, and the trace id's first 8 digits. */
export function textLine(r: LogRecord): string {
  const host = r.hostName ?? r.host.slice(0, 8);
  const context = r.context ? `[${r.context}] ` : "";
  const fields = r.fields && Object.keys(r.fields).length > 0 ? ` ${JSON.stringify(r.fields)}` : "";
  const trace = r.traceId ? `  trace=${r.traceId.slice(0, 8)}` : "";
  return `${r.time}  ${host}  ${r.source}  ${r.level.toUpperCase().padEnd(8)}${context}${r.message}${fields}${trace}`;
}

/** Tell on stderr that what comes now is live: scripts (and tests) wait for this line. */
function announce(opts: LogsOpts, id: string | undefined, hostId: string | undefined): void {
  const what = [id && `of ${id}`, hostId && `on host ${hostId}`].filter((x) => x).join(" ");
  process.stderr.write(`following log records${what ? ` ${what}` : ""} of lattice ${opts.lattice} on ${opts.natsUrl.split(",").map(redactUrl).join(",")}\n`);
}

/** The records of one message, or none (with a warning) for one that is not a log batch. */
function recordsOf(data: Uint8Array, subject: string): LogRecord[] {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(data));
  } catch {
    warn(`a message on ${subject} is not JSON; skipped`);
    return [];
  }
  const problems = schemaProblems(LogBatch, v);
  if (problems.length > 0) {
    warn(`a message on ${subject} is not a log batch (${problems[0]?.path || "/"}: ${problems[0]?.message}); skipped`);
    return [];
  }
  const { records, ...from } = v as LogBatch;
  // Time first: what a reader of the JSON lines looks for.
  return records.map(({ time, ...e }) => ({ time, ...from, ...e }));
}

/** The lattice's log stream as a reader finds it: where it starts and ends now, and consumers on it. */
interface LogHistory {
  firstSeq: number;
  lastSeq: number;
  /** An ordered consumer of the matching subjects from `start`, and the messages it has to read to be caught up. */
  open(start: { seq: number } | { time: string } | "all"): Promise<{ consumer: Consumer; pending: number }>;
}

async function openHistory(nc: NatsConnection, opts: LogsOpts, filter: string): Promise<LogHistory | { missing: string }> {
  const name = logStreamName(opts.lattice);
  try {
    const jsm = await jetstreamManager(nc, { timeout: 5_000, ...(opts.jsDomain ? { domain: opts.jsDomain } : {}) });
    const { state } = await jsm.streams.info(name);
    const js = jsm.jetstream();
    return {
      firstSeq: state.first_seq,
      lastSeq: state.last_seq,
      open: async (start) => {
        const from = start === "all" ? { deliver_policy: DeliverPolicy.All } : "seq" in start ? { opt_start_seq: start.seq } : { opt_start_time: start.time };
        const consumer = await js.consumers.get(name, { filter_subjects: filter, ...from });
        return { consumer, pending: (await consumer.info(true)).num_pending };
      },
    };
  } catch (e) {
    const why = messageOf(e);
    return { missing: /stream not found/i.test(why) ? `the lattice has no log stream (${name}: no host has published a record with JetStream on)` : `JetStream did not answer (${why})` };
  }
}

/** What a consumer read up to where the stream was when it was made (the matching records), and its messages, still open. */
interface CaughtUp {
  kept: LogRecord[];
  messages?: ConsumerMessages;
  rest?: AsyncIterator<JsMsg>;
}

async function catchUp(consumer: Consumer, pending: number, wanted: (r: LogRecord) => boolean, tail: number, signal: AbortSignal): Promise<CaughtUp> {
  if (pending === 0) return { kept: [] };
  const messages = await consumer.consume();
  signal.addEventListener("abort", () => void messages.stop(), { once: true });
  const rest = messages[Symbol.asyncIterator]();
  let kept: LogRecord[] = [];
  for (let n = await rest.next(); !n.done; n = await rest.next()) {
    for (const r of recordsOf(n.value.data, n.value.subject)) if (wanted(r)) kept.push(r);
    // Trimmed now and then, not on every record: a tail of a long window stays cheap.
    if (kept.length > 2 * tail + 1_000) kept = kept.slice(-tail);
    if (n.value.info.pending === 0) break;
  }
  return { kept, messages, rest };
}

/**
 * Show the last --tail records (or all since --since), then `caughtUp`, and with --follow every
 * record after, as it comes. The last `tail` messages of the stream hold at least `tail`
 * records when every record matches, so the read starts there; when fewer match (one source
 * among many, --level), it starts again 8 times further back, until it has enough or has read
 * the whole stream.
 */
async function readStream(h: LogHistory, opts: LogsOpts, show: Show, signal: AbortSignal, caughtUp: () => void): Promise<void> {
  const tail = opts.tail ?? (opts.since === undefined ? DEFAULT_TAIL : Infinity);
  const wanted = (r: LogRecord) => !opts.level || atLeast(r.level, opts.level);
  const first = Math.max(1, h.firstSeq);
  for (let window = Math.max(1, tail); ; window *= 8) {
    const seq = Math.max(first, h.lastSeq - window + 1);
    const start = opts.since !== undefined ? { time: new Date(Date.now() - opts.since).toISOString() } : tail === Infinity ? "all" : { seq };
    const whole = !(typeof start === "object" && "seq" in start) || seq <= first;
    const { consumer, pending } = await h.open(start);
    const read = await catchUp(consumer, pending, wanted, tail, signal);
    if (signal.aborted) return read.messages?.stop();
    if (read.kept.length < tail && !whole) {
      read.messages?.stop();
      continue;
    }
    show(tail === 0 ? [] : read.kept.slice(-tail));
    caughtUp();
    // stop(), not close(): close waits for an iterator that is no longer read.
    if (opts.follow !== true) return read.messages?.stop();
    const messages = read.messages ?? (await consumer.consume());
    if (!read.messages) signal.addEventListener("abort", () => void messages.stop(), { once: true });
    const rest = read.rest ?? messages[Symbol.asyncIterator]();
    for (let n = await rest.next(); !n.done; n = await rest.next()) show(recordsOf(n.value.data, n.value.subject));
    return;
  }
}

/** No stream: a plain subscription, which sees what is published from now on. */
async function followLive(nc: NatsConnection, filter: string, show: Show, signal: AbortSignal): Promise<void> {
  const sub = nc.subscribe(filter);
  signal.addEventListener("abort", () => sub.unsubscribe(), { once: true });
  await nc.flush();
  process.stderr.write(`following live log records on ${filter}\n`);
  for await (const m of sub) show(recordsOf(m.data, m.subject));
}

/** A host id as given, or the id of the one host of that name. */
async function resolveHost(nc: NatsConnection, lattice: string, host: string): Promise<string> {
  if (new RegExp(HOST_ID_PATTERN).test(host)) return host;
  const { replies } = await new LatticeClient(nc, lattice).hosts();
  const named = replies.filter((h) => h.name === host);
  if (named.length === 1) return named[0]!.id;
  if (named.length === 0) throw new LatticeError(ErrorCode.NotFound, `no host named ${JSON.stringify(host)} in lattice ${lattice} (give a host id to see the records of a host that is gone)`);
  throw new LatticeError(ErrorCode.BadRequest, `${named.length} hosts are named ${JSON.stringify(host)} in lattice ${lattice}: give one's id (${named.map((h) => h.id).join(", ")})`);
}
