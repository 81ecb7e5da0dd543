/**
 * The keyvalue provider's JetStream backend: one KV bucket per store, in the lattice's JetStream
 * domain, made on first use with three copies where the cluster can hold them (replicas.ts).
 *
 * Effects once: a write carries its call id as `Nats-Msg-Id` (the stream drops a second one
 * within its duplicate window) and its effect's fingerprint in a header, so a call id reused for
 * another effect is refused. A JetStream that is briefly away (a stream electing a leader after
 * its server died, a reconnect) is waited for until the call's deadline: a resent write is a
 * duplicate, a resent read is a read.
 *
 * Increments are compare-and-set on the key's revision (Nats-Expected-Last-Subject-Sequence). On
 * a replicated bucket that check alone can let two writers through (replicas.ts), so there an
 * increment also expects the stream's last sequence (Nats-Expected-Last-Sequence), which the
 * leader checks against what it has in flight: it goes through only if nothing at all was written
 * to the bucket since the sequence it was built on. That is a write this provider was acknowledged
 * (so applied at the leader), or, after a mismatch, the stream's last sequence read from the
 * leader before the key was.
 *
 * A replicated counter also carries, in its last write's headers, its last 64 increments (a hash
 * of each call id, and the value it answered), so that a retry answers what the first attempt
 * did. Across a leader election the retry of an increment whose reply was lost often comes after
 * other writes to the key, and the stream (one revision a key) no longer holds the write its
 * message id points to: without the record it could only answer the value now, which another
 * increment also answered (measured on 2.9.10: 1-2 of 200 increments, the leader killed under
 * load). Nor is the message-id check alone safe there before nats-server 2.11, whose new leaders
 * wait to have applied their whole log before taking writes (nats-server#6485, #6486); the record
 * travels with the value, so a retry that sees the value sees it too.
 */
import { createHash } from "node:crypto";
import { jetstream, JetStreamApiCodes, JetStreamApiError, type JetStreamClient, type JetStreamManager, type PubAck, type StoredMsg } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { headers, type NatsConnection } from "@nats-io/nats-core";
import { untilDeadline } from "../../nats/jetstream-retry.js";
import { KeyedQueue } from "../../protocol/keyed-queue.js";
import { kvCopies, withReplicas } from "../../nats/replicas.js";
import { added, counterValue, encoder, other, reused, type Effect, type Store } from "./keyvalue-store.js";
import { messageOf } from "../../protocol/index.js";

/** Compare-and-set attempts of one `increment` before it gives up. */
const CAS_ATTEMPTS = 50;
/** Counters whose last value and revision the store keeps. */
const KNOWN_COUNTERS = 10_000;
/** The header a write carries its effect's fingerprint in, to tell a reused key. */
const EFFECT_HEADER = "Lattice-Effect";
/** A JetStream request waits at most this long, or until the call's deadline if sooner. */
const REQUEST_TIMEOUT_MS = 5_000;
/** The header a replicated counter's increments last applied ride in, and how many it keeps. */
const APPLIED_HEADER = "Lattice-Applied";
const APPLIED_KEPT = 64;

interface Bucket {
  name: string;
  kv: KV;
  /** More than one copy: increments also expect the stream's last sequence. */
  replicated: boolean;
}

/** A counter as last written: its value, revision and, on a replicated bucket, the increments last applied to it. */
interface Counter {
  value: bigint;
  revision: number;
  applied?: Applied;
}

/** What an increment builds on: the counter and, on a replicated bucket, the stream's last sequence then. */
interface Basis extends Counter {
  streamSeq?: number;
}

/** Increments last applied to a counter, newest first: `<call id hash>=<value answered>`. */
type Applied = string[];

/** A call id's short name in the applied record: 48 bits of its SHA-256. */
function appliedId(callId: string): string {
  return createHash("sha256").update(callId).digest("base64url").slice(0, 8);
}

/** The value `callId` answered, if the record has it. */
function appliedValue(applied: Applied | undefined, callId: string): bigint | undefined {
  const prefix = `${appliedId(callId)}=`;
  const entry = applied?.find((e) => e.startsWith(prefix));
  return entry === undefined ? undefined : BigInt(entry.slice(prefix.length));
}

function parseApplied(header: string | undefined): Applied {
  return header ? header.split(",").filter((e) => /^[\w-]{8}=\d{1,20}$/.test(e)) : [];
}

function isWrongLastSequence(e: unknown): boolean {
  return e instanceof JetStreamApiError && (e.code === JetStreamApiCodes.StreamWrongLastSequence || e.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);
}

export class JetStreamStore implements Store {
  private readonly js: JetStreamClient;
  private readonly kvm: Kvm;
  private readonly buckets = new Map<string, Promise<Bucket>>();
  private jsm?: Promise<JetStreamManager>;
  /** Counters by `store/key`: the value and revision this provider last wrote or read. */
  private readonly known = new Map<string, Counter>();
  /** By store: the stream sequence of the last write this provider was acknowledged. */
  private readonly lastAck = new Map<string, number>();
  /** Increments one at a time on each counter (each store, if replicated). */
  private readonly increments = new KeyedQueue();

  constructor(nc: NatsConnection, domain?: string) {
    this.js = jetstream(nc, { timeout: REQUEST_TIMEOUT_MS, ...(domain ? { domain } : {}) });
    this.kvm = new Kvm(this.js);
  }

  private bucket(name: string): Promise<Bucket> {
    let b = this.buckets.get(name);
    if (!b) {
      // Binds to the bucket when it exists (whatever its settings), creates it otherwise.
      b = withReplicas((replicas) => this.kvm.create(name, { history: 1, ...kvCopies(replicas) })).then(async (kv) => ({ name, kv, replicated: (await kv.status()).replicas > 1 }));
      this.buckets.set(name, b);
      b.catch(() => this.buckets.delete(name));
    }
    return b;
  }

  async open(name: string): Promise<void> {
    await this.bucket(name);
  }

  async get(name: string, k: string, deadline: number): Promise<Uint8Array | null> {
    const b = await this.bucket(name);
    const e = await untilDeadline(deadline, () => b.kv.get(k));
    return e && e.operation === "PUT" ? e.value : null;
  }

  async set(name: string, k: string, value: Uint8Array, effect: Effect): Promise<void> {
    this.known.delete(`${name}/${k}`);
    const b = await this.bucket(name);
    await untilDeadline(effect.deadline, () => this.write(b, k, value, effect));
  }

  async delete(name: string, k: string, effect: Effect): Promise<void> {
    this.known.delete(`${name}/${k}`);
    const b = await this.bucket(name);
    const e = await untilDeadline(effect.deadline, () => b.kv.get(k));
    if (e && e.operation === "PUT") await untilDeadline(effect.deadline, () => this.write(b, k, new Uint8Array(), effect, { operation: "DEL" }));
  }

  /**
   * A write to a key of a bucket, as KV makes it (a message on `$KV.<bucket>.<key>`), with the
   * call id as the message id, the effect's fingerprint in a header and, for a compare-and-set,
   * what it must follow. A duplicate is checked against the message it repeats, while the stream
   * still has it: a call id that wrote something else is refused. Answers the ack and, for a
   * duplicate, that message.
   */
  private async write(
    b: Bucket,
    k: string,
    data: Uint8Array,
    effect: Effect,
    o: { basis?: Basis; operation?: "DEL"; applied?: Applied } = {},
  ): Promise<{ ack: PubAck; original?: StoredMsg | null }> {
    const h = headers();
    h.set(EFFECT_HEADER, effect.what);
    if (o.operation) h.set("KV-Operation", o.operation);
    if (o.applied) h.set(APPLIED_HEADER, o.applied.join(","));
    const ack = await this.js.publish(`$KV.${b.name}.${k}`, data, {
      msgID: effect.callId,
      headers: h,
      timeout: Math.max(1, Math.min(REQUEST_TIMEOUT_MS, effect.deadline - Date.now())),
      ...(o.basis ? { expect: { lastSubjectSequence: o.basis.revision, ...(o.basis.streamSeq !== undefined ? { lastSequence: o.basis.streamSeq } : {}) } } : {}),
    });
    if (!ack.duplicate) {
      this.lastAck.set(b.name, Math.max(ack.seq, this.lastAck.get(b.name) ?? 0));
      return { ack };
    }
    const original = await (await this.manager()).streams.getMessage(`KV_${b.name}`, { seq: ack.seq }).catch(() => null);
    const was = original?.header?.get(EFFECT_HEADER);
    if (was && was !== effect.what) throw reused(effect.callId, was);
    return { ack, original };
  }

  private manager(): Promise<JetStreamManager> {
    return (this.jsm ??= this.js.jetstreamManager());
  }

  async keys(name: string, deadline: number): Promise<string[]> {
    const b = await this.bucket(name);
    return untilDeadline(deadline, async () => {
      const out: string[] = [];
      for await (const k of await b.kv.keys()) out.push(k);
      return out.sort();
    });
  }

  /**
   * Add `delta`, writing back only if nobody wrote in between (the compare-and-set); else again,
   * from what is there now. The increments of one key from this provider (of one store, if it is
   * replicated, where any write in between fails the check) wait for each other, and each builds
   * on what the last one left, with no read first: they never race each other (measured: four
   * instances of http-counter on one key spent most of their JetStream round trips on reads and
   * lost compare-and-sets). Other writers still can; their writes make the next compare-and-set
   * fail, and that one reads.
   */
  async increment(name: string, k: string, delta: bigint, effect: Effect): Promise<bigint> {
    const b = await this.bucket(name);
    return this.increments.run(b.replicated ? name : `${name}/${k}`, () => this.incrementNow(b, k, delta, effect));
  }

  private async incrementNow(b: Bucket, k: string, delta: bigint, effect: Effect): Promise<bigint> {
    const id = `${b.name}/${k}`;
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const basis = this.basis(b, id) ?? (await untilDeadline(effect.deadline, () => this.read(b, k, id)));
      const done = appliedValue(basis.applied, effect.callId);
      if (done !== undefined) return done;
      const next = added(id, basis.value, delta);
      const applied = b.replicated ? [`${appliedId(effect.callId)}=${next}`, ...(basis.applied ?? []).slice(0, APPLIED_KEPT - 1)] : undefined;
      try {
        const { ack, original } = await untilDeadline(effect.deadline, () => this.write(b, k, encoder.encode(next.toString()), effect, { basis, applied }));
        if (ack.duplicate) {
          // Applied before, by this provider before a restart or by another one: not again. Its
          // result is the value it wrote: the stream's copy of that write while it holds it, else
          // what the later writes of a replicated bucket carry of it (their applied list), else
          // the value now.
          this.known.delete(id);
          if (original) return counterValue(id, original.data);
          const now = await untilDeadline(effect.deadline, () => this.read(b, k, id));
          return appliedValue(now.applied, effect.callId) ?? now.value;
        }
        this.remember(id, { value: next, revision: ack.seq, applied });
        return next;
      } catch (err) {
        this.known.delete(id);
        this.lastAck.delete(b.name);
        if (!isWrongLastSequence(err)) throw err;
      }
    }
    throw other(`${id} changed under every one of ${CAS_ATTEMPTS} attempts to increment it`);
  }

  /** What this provider knows of a counter without asking JetStream, if enough. */
  private basis(b: Bucket, id: string): Basis | undefined {
    const last = this.known.get(id);
    if (!last || !b.replicated) return last;
    const streamSeq = this.lastAck.get(b.name);
    return streamSeq === undefined ? undefined : { ...last, streamSeq };
  }

  /** A counter's value and revision; on a replicated bucket from the leader, after the stream's last sequence. */
  private async read(b: Bucket, k: string, id: string): Promise<Basis> {
    if (!b.replicated) {
      const e = await b.kv.get(k);
      return { value: e !== null && e.operation === "PUT" ? counterValue(id, e.value) : 0n, revision: e?.revision ?? 0 };
    }
    const jsm = await this.manager();
    const stream = `KV_${b.name}`;
    const streamSeq = (await jsm.streams.info(stream)).state.last_seq;
    const m = await jsm.streams.getMessage(stream, { last_by_subj: `$KV.${b.name}.${k}` }).catch((e: unknown) => {
      if (e instanceof JetStreamApiError && e.code === JetStreamApiCodes.NoMessageFound) return null;
      throw e;
    });
    // A delete or purge marker (KV-Operation set) holds no value: the counter starts from 0.
    const value = m !== null && !m.header?.get("KV-Operation") ? counterValue(id, m.data) : 0n;
    return { value, revision: m?.seq ?? 0, streamSeq, applied: parseApplied(m?.header?.get(APPLIED_HEADER)) };
  }

  private remember(id: string, v: Counter): void {
    this.known.delete(id);
    this.known.set(id, v);
    if (this.known.size > KNOWN_COUNTERS) this.known.delete(this.known.keys().next().value!);
  }

  async check(): Promise<string | undefined> {
    try {
      await (await this.manager()).getAccountInfo();
      return undefined;
    } catch (e) {
      return `JetStream is unreachable: ${messageOf(e)}`;
    }
  }

  close(): void {
    this.buckets.clear();
  }
}
