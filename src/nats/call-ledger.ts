/**
 * Exactly-once calls for targets that declare their calls non-idempotent: the first instance to
 * claim a call id in the lattice's call ledger (a JetStream KV bucket, entries kept 2 minutes)
 * runs the call and records its reply; a retry of the same call that reaches any other instance
 * waits for that reply instead of running the call again.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import type { KV } from "@nats-io/kv";
import { ErrorCode, LatticeError, assertLatticeName } from "../protocol/index.js";
import { KvBucket } from "./kv-bucket.js";

/** How long a call id is remembered lattice-wide: longer than any sensible deadline. */
const LEDGER_TTL_MS = 120_000;
const POLL_MS = 25;
const PENDING = new Uint8Array(0);

export type Claim = { mine: true } | { mine: false; reply: Promise<Uint8Array> };

export class CallLedger {
  private readonly kv: KvBucket;

  constructor(nc: NatsConnection, lattice: string, domain?: string) {
    this.kv = new KvBucket(nc, `lattice_${assertLatticeName(lattice)}_calls`, { domain, config: { history: 1, ttl: LEDGER_TTL_MS }, what: "the call ledger", compareAndSet: true });
  }

  private open(): Promise<KV> {
    return this.kv.open();
  }

  /** Take the call, or learn that another instance has: then its reply, when recorded. */
  async claim(callId: string, deadline: number): Promise<Claim> {
    const kv = await this.open();
    try {
      await kv.create(callId, PENDING);
      return { mine: true };
    } catch {
      return { mine: false, reply: this.await(kv, callId, deadline) };
    }
  }

  async record(callId: string, reply: Uint8Array): Promise<void> {
    await (await this.open()).put(callId, reply);
  }

  private async await(kv: KV, callId: string, deadline: number): Promise<Uint8Array> {
    while (Date.now() < deadline) {
      const e = await kv.get(callId);
      if (e && e.value.length > 0) return e.value;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    throw new LatticeError(ErrorCode.Timeout, `call ${callId} was taken by another instance, which did not answer before the deadline`);
  }
}
