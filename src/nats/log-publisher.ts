/**
 * A host's log records into the lattice: each actor's and provider's records are rate-limited per
 * source, held for a moment and published as one batch per source (`LogBatch` on
 * `lattice.<L>.log.v1.<hostId>.<source>`), which the lattice's log stream keeps (log-stream.ts).
 *
 * A source that logs faster than its rate (an actor logging in a loop) loses the records over it,
 * counted: a `warn` record with `dropped` says how many, at most once a second. So a flood costs
 * the host a counter increment per record dropped, and the lattice at most `burst` records plus
 * `perSecond` a second from that source. Nothing waits on NATS: a publish on a closed connection
 * loses the batch, and a missing stream only means nothing is kept.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { messageOf } from "../protocol/errors.js";
import { MAX_LOG_BATCH_BYTES, MAX_LOG_MESSAGE, traceIds, type LogBatch, type LogEntry, type LogRecordLevel, type LogSourceKind } from "../protocol/log-records.js";
import type { Subjects } from "../protocol/subjects.js";
import { ensureLogStream } from "./log-stream.js";

export interface LogRate {
  /** Records a source may log a second, sustained. */
  perSecond: number;
  /** Records it may log at once, above that. */
  burst: number;
}

export const DEFAULT_LOG_RATE: Readonly<LogRate> = { perSecond: 200, burst: 1_000 };
/** How long records wait to be sent with the ones after them. */
const FLUSH_MS = 100;
/** A source's drops are reported at most this often. */
const DROP_REPORT_MS = 1_000;
/** After JetStream refused to make the stream, ask again no sooner than this. */
const STREAM_RETRY_MS = 60_000;
/** Room left in a batch for its envelope (host, name, source, kind). */
const BATCH_ENVELOPE_BYTES = 512;

export interface LogPublisherOptions {
  nc: NatsConnection;
  subjects: Subjects;
  hostId: string;
  hostName: string;
  jsDomain?: string;
  rate?: Partial<LogRate>;
  /** Told once when the log stream cannot be made (JetStream off or unreachable). */
  warn: (message: string, fields: Record<string, unknown>) => void;
}

/** What else a record may say than its level and message. */
export interface RecordExtras {
  context?: string;
  traceparent?: string;
  fields?: Record<string, unknown>;
}

interface Source {
  kind: LogSourceKind;
  subject: string;
  /** Token bucket: records it may still log now, as of `at` (performance.now()). */
  tokens: number;
  at: number;
  pending: LogEntry[];
  /** The JSON size of each pending record. */
  sizes: number[];
  dropped: number;
  reportedAt: number;
}

export class LogPublisher {
  private readonly sources = new Map<string, Source>();
  private readonly rate: LogRate;
  private timer?: ReturnType<typeof setTimeout>;
  private stream: "unknown" | "asking" | "there" = "unknown";
  private streamRetryAt = 0;
  private warned = false;
  private stopped = false;
  /** Records dropped over every source's rate, since the start. */
  droppedTotal = 0;

  constructor(private readonly o: LogPublisherOptions) {
    this.rate = { ...DEFAULT_LOG_RATE, ...o.rate };
  }

  /** Make sure the lattice's log stream is there (not awaited by anyone: records flow without it). */
  start(): void {
    this.askForStream();
  }

  /**
   * A record of `source`: queued and true, or counted as dropped and false when the source is over
   * its rate (the caller then leaves it out of the host's own log too).
   */
  record(kind: LogSourceKind, source: string, level: LogRecordLevel, message: string, extras?: RecordExtras): boolean {
    if (this.stopped) return false;
    const s = this.source(kind, source);
    if (!s) return false;
    const now = performance.now();
    s.tokens = Math.min(this.rate.burst, s.tokens + ((now - s.at) * this.rate.perSecond) / 1000);
    s.at = now;
    if (s.tokens < 1) {
      s.dropped++;
      this.droppedTotal++;
      this.arm();
      return false;
    }
    s.tokens--;
    this.queue(s, entry(level, message, extras));
    return true;
  }

  /** Send what is held, and stop taking records. */
  stop(): void {
    if (this.stopped) return;
    this.flush(true);
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The source's state, made on its first record; none for an id that cannot be a subject token (never a supervised one). */
  private source(kind: LogSourceKind, id: string): Source | undefined {
    let s = this.sources.get(id);
    if (!s) {
      let subject: string;
      try {
        subject = this.o.subjects.log(this.o.hostId, id);
      } catch {
        return undefined;
      }
      s = { kind, subject, tokens: this.rate.burst, at: performance.now(), pending: [], sizes: [], dropped: 0, reportedAt: 0 };
      this.sources.set(id, s);
    }
    return s;
  }

  private queue(s: Source, e: LogEntry): void {
    let bytes = JSON.stringify(e).length;
    if (bytes > MAX_LOG_BATCH_BYTES - BATCH_ENVELOPE_BYTES) {
      // Only fields can make it that big (the message is cut already): they go, the record stays.
      e.fields = { cut: "fields over the size of a log batch" };
      bytes = JSON.stringify(e).length;
    }
    s.pending.push(e);
    s.sizes.push(bytes);
    this.arm();
  }

  private arm(): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush(false);
    }, FLUSH_MS);
    (this.timer as { unref?: () => void }).unref?.();
  }

  private flush(final: boolean): void {
    const now = performance.now();
    let dropsLeft = false;
    for (const [id, s] of this.sources) {
      if (s.dropped > 0) {
        if (final || now - s.reportedAt >= DROP_REPORT_MS) {
          const n = s.dropped;
          s.dropped = 0;
          s.reportedAt = now;
          const e = entry("warn", `${n} log record${n === 1 ? "" : "s"} dropped: ${id} logged over ${this.rate.perSecond} a second (burst ${this.rate.burst})`);
          e.dropped = n;
          s.pending.push(e);
          s.sizes.push(JSON.stringify(e).length);
        } else dropsLeft = true;
      }
      if (s.pending.length > 0) this.send(id, s);
      // A source whose bucket has refilled is as good as new: forgotten, so stopped actors do not linger.
      else if (s.dropped === 0 && s.tokens + ((now - s.at) * this.rate.perSecond) / 1000 >= this.rate.burst) this.sources.delete(id);
    }
    if (dropsLeft) this.arm();
    if (!final && this.stream === "unknown" && now >= this.streamRetryAt) this.askForStream();
  }

  /** A source's held records as batches under the size limit, oldest first. */
  private send(id: string, s: Source): void {
    const records = s.pending;
    const sizes = s.sizes;
    s.pending = [];
    s.sizes = [];
    const subject = s.subject;
    let from = 0;
    let bytes = 0;
    for (let i = 0; i <= records.length; i++) {
      const size = i < records.length ? sizes[i]! + 1 : 0;
      if (i === records.length || (i > from && bytes + size > MAX_LOG_BATCH_BYTES - BATCH_ENVELOPE_BYTES)) {
        if (i > from) this.publish(subject, { host: this.o.hostId, hostName: this.o.hostName, source: id, kind: s.kind, records: records.slice(from, i) });
        from = i;
        bytes = 0;
      }
      bytes += size;
    }
  }

  private publish(subject: string, batch: LogBatch): void {
    try {
      this.o.nc.publish(subject, JSON.stringify(batch));
    } catch {
      // Only a closed connection refuses a publish: the host is stopping, and its records go with it.
    }
  }

  private askForStream(): void {
    if (this.stream !== "unknown") return;
    this.stream = "asking";
    ensureLogStream(this.o.nc, this.o.subjects, this.o.jsDomain).then(
      () => {
        this.stream = "there";
      },
      (e: unknown) => {
        this.stream = "unknown";
        this.streamRetryAt = performance.now() + STREAM_RETRY_MS;
        if (this.warned) return;
        this.warned = true;
        this.o.warn("the lattice's log stream could not be made: actors' and providers' log records are published but not kept (lattice logs --follow still shows them)", { error: messageOf(e) });
      },
    );
  }
}

function entry(level: LogRecordLevel, message: string, extras?: RecordExtras): LogEntry {
  const e: LogEntry = { time: new Date().toISOString(), level, message: message.length > MAX_LOG_MESSAGE ? `${message.slice(0, MAX_LOG_MESSAGE)}… (${message.length - MAX_LOG_MESSAGE} characters cut)` : message };
  if (!extras) return e;
  if (extras.context) e.context = extras.context.slice(0, 256);
  const ids = traceIds(extras.traceparent);
  if (ids) {
    e.traceId = ids.traceId;
    e.spanId = ids.spanId;
  }
  if (extras.fields && Object.keys(extras.fields).length > 0) e.fields = extras.fields;
  return e;
}
