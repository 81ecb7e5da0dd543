/**
 * How many copies JetStream keeps of the lattice's streams (state, apps, call ledger, artifacts,
 * keyvalue buckets). On a JetStream cluster of 3 or more servers: 3, so losing a server loses no
 * state and stops writes only while the stream elects a new leader (4-9 s on nats-server 2.9).
 * On a single server, or a cluster
 * that cannot place 3 (2 servers, or one down when the stream is made): 1, since 2 copies would
 * stop writes on the loss of either one anyway. Only a new stream is placed; one that exists
 * keeps its settings.
 *
 * A stream written by compare-and-set on a key's revision (the app store and its lease, the call
 * ledger) keeps one copy: on a replicated stream that check is not serializable before
 * nats-server 2.9.21 (nats-io/nats-server#4320: the leader checks what it has applied, not what
 * it has in flight). Measured on 2.9.10, three writers expecting one revision of an R3 stream:
 * more than one was accepted in 242 rounds of 300; expecting the stream's last sequence instead,
 * never (the keyvalue provider's increments do that, keyvalue-jetstream.ts).
 */
import { JetStreamApiError } from "@nats-io/jetstream";

export const CLUSTER_REPLICAS = 3;

/** JetStream's answers meaning "not that many copies here" (nats-server's error codes). */
const CANNOT_REPLICATE = new Set([
  10074, // replicas > 1 not supported in non-clustered mode
  10005, // no suitable peers for placement
  10023, // insufficient resources
]);

/**
 * KV settings for `replicas` copies. Above one, reads go to the stream's leader: a follower's
 * direct answer can lag a write just acknowledged (nats-io/nats-server#4710).
 */
export function kvCopies(replicas: number): { replicas: number; allow_direct?: boolean } {
  return replicas > 1 ? { replicas, allow_direct: false } : { replicas };
}

/** Make a stream with `create(replicas)`, 3 copies where the cluster can hold them, else 1. */
export async function withReplicas<T>(create: (replicas: number) => Promise<T>): Promise<T> {
  try {
    return await create(CLUSTER_REPLICAS);
  } catch (e) {
    if (e instanceof JetStreamApiError && CANNOT_REPLICATE.has(e.code)) return create(1);
    throw e;
  }
}
