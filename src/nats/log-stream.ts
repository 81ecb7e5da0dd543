/**
 * The JetStream stream that keeps a lattice's recent log records, `lattice_<L>_logs`, over every
 * log subject of the lattice: an hour of them, 64 MiB at most, the oldest discarded first. Made by
 * the first host that publishes records (as the state bucket is made by its first user), with one
 * copy: logs are not worth a replicated write each. A stream that exists keeps its settings.
 */
import { nanos, type NatsConnection } from "@nats-io/nats-core";
import { DiscardPolicy, JetStreamApiError, RetentionPolicy, StorageType, jetstreamManager } from "@nats-io/jetstream";
import { LOG_STREAM_MAX_AGE_MS, LOG_STREAM_MAX_BYTES, logStreamName } from "../protocol/log-records.js";
import type { Subjects } from "../protocol/subjects.js";
import { assertJetStreamDomain } from "./artifact-store.js";

/** nats-server's "stream name already in use" (with other settings): someone made it already. */
const STREAM_NAME_IN_USE = 10058;

/** Make the lattice's log stream if it is not there. Rejects when JetStream is off or unreachable. */
export async function ensureLogStream(nc: NatsConnection, subjects: Subjects, domain?: string): Promise<void> {
  const jsm = await jetstreamManager(nc, { timeout: 5_000, ...(domain ? { domain: assertJetStreamDomain(domain) } : {}) });
  const name = logStreamName(subjects.lattice);
  try {
    await jsm.streams.info(name);
    return;
  } catch (e) {
    if (!(e instanceof JetStreamApiError) || e.code !== 10059) throw e; // 10059: stream not found
  }
  try {
    await jsm.streams.add({
      name,
      subjects: [subjects.logFilter()],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      max_age: nanos(LOG_STREAM_MAX_AGE_MS),
      max_bytes: LOG_STREAM_MAX_BYTES,
      discard: DiscardPolicy.Old,
      num_replicas: 1,
    });
  } catch (e) {
    if (!(e instanceof JetStreamApiError) || e.code !== STREAM_NAME_IN_USE) throw e;
  }
}
