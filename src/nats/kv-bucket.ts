/**
 * A lattice's JetStream KV bucket, created on first use. A failed create is not remembered, so
 * the next use tries again (JetStream may come back); the failure reads as `unavailable`. A new
 * bucket is replicated where the cluster allows, unless it is written by compare-and-set
 * (`replicas.ts`).
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstream } from "@nats-io/jetstream";
import { Kvm, type KV, type KvEntry, type KvOptions } from "@nats-io/kv";
import type { Static, TSchema } from "@sinclair/typebox";
import { ErrorCode, LatticeError, validate, messageOf } from "../protocol/index.js";
import { assertJetStreamDomain } from "./artifact-store.js";
import { kvCopies, withReplicas } from "./replicas.js";

export interface BucketOptions {
  /** JetStream domain of the hub holding it (needed on leaf nodes). */
  domain?: string;
  /** JetStream API timeout (ms). */
  timeoutMs?: number;
  /** How the bucket is made when missing (history, ttl…). */
  config: Partial<KvOptions>;
  /** What it holds, for error messages (`lattice state`). */
  what: string;
  /**
   * Written by compare-and-set (create, or update on a revision): then kept to one copy, whose
   * check is serializable on every nats-server (`replicas.ts`).
   */
  compareAndSet?: boolean;
}

export class KvBucket {
  private kv?: Promise<KV>;
  private readonly kvm: Kvm;

  constructor(
    nc: NatsConnection,
    readonly name: string,
    private readonly opts: BucketOptions,
  ) {
    const domain = opts.domain ? assertJetStreamDomain(opts.domain) : undefined;
    this.kvm = new Kvm(jetstream(nc, { timeout: opts.timeoutMs ?? 5_000, ...(domain ? { domain } : {}) }));
  }

  open(): Promise<KV> {
    const create = (replicas: number) => this.kvm.create(this.name, { ...kvCopies(replicas), ...this.opts.config });
    this.kv ??= (this.opts.compareAndSet ? create(1) : withReplicas(create)).catch((e: unknown) => {
      this.kv = undefined;
      throw new LatticeError(ErrorCode.Unavailable, `${this.opts.what} (JetStream KV ${this.name}) is unreachable: ${messageOf(e)}`, { cause: e });
    });
    return this.kv;
  }
}

/** An entry's JSON value, checked against its schema; `where` names the bucket in errors. */
export function decodeEntry<T extends TSchema>(e: KvEntry, schema: T, what: string, where: string): Static<T> {
  let v: unknown;
  try {
    v = e.json();
  } catch {
    throw new LatticeError(ErrorCode.BadReply, `${what} ${e.key} in ${where} is not JSON`);
  }
  return validate(schema, v, `${what} ${e.key}`);
}
