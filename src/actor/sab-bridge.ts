/**
 * The SharedArrayBuffer transport of host calls (host-bridge.ts), for browsers: a worker there
 * cannot take a message off a port while it blocks (no receiveMessageOnPort), so the host thread
 * writes each reply into memory both share, then counts and wakes. Requests still travel as
 * messages (the host thread is never blocked). Only ECMAScript and MessageChannel: it runs in
 * Node as well.
 *
 * The buffer: Int32 words [count, seq, length], then the reply, MessagePack-encoded (the codec of
 * invocations: what a forwarded call answers came off the wire in it), in a growable buffer. The
 * host writes the bytes, then the length, the seq, and last the count (Atomics, so a worker that
 * reads the seq it waits for reads the whole reply). One slot is enough because a worker waits
 * for one call at a time and sends the next request only after it has read its reply or given up:
 * the host writes no reply older than the newest request it has had, so nothing is overwritten
 * while a worker reads it.
 */
import { Decoder, Encoder } from "@msgpack/msgpack";
import { ErrorCode } from "../protocol/errors.js";
import { messageOf } from "../protocol/errors.js";
import { replyTo, type HostCallHandler, type SyncReplies } from "./host-bridge.js";
import type { BridgeReply, BridgeRequest } from "./worker-protocol.js";

/** What a worker gets in its bind: where to send requests, where replies appear. */
export interface SabBridgeChannel {
  port: MessagePort;
  buffer: SharedArrayBuffer;
}

const HEADER = 12;
const COUNT = 0;
const SEQ = 1;
const LENGTH = 2;
const FIRST_BYTES = 64 * 1024;
/** Past the invocation payload limit with room to spare: a reply this large is refused. */
const MAX_BYTES = 16 * 1024 * 1024;

const encoder = new Encoder({ useBigInt64: true, ignoreUndefined: false });
const decoder = new Decoder({ useBigInt64: true });

type Growable = SharedArrayBuffer & { grow(n: number): void; readonly maxByteLength: number };
const GrowableSab = SharedArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => Growable;

/** Host side: a bridge served with `handler`; the worker end goes in the bind, its port transferred. */
export function createSabBridge(handler: HostCallHandler): { worker: SabBridgeChannel; transfer: MessagePort[]; close: () => void } {
  const { port1, port2 } = new MessageChannel();
  const buffer = new GrowableSab(HEADER + FIRST_BYTES, { maxByteLength: HEADER + MAX_BYTES });
  const words = new Int32Array(buffer, 0, 3);
  let newest = 0;
  port1.onmessage = (e: MessageEvent<BridgeRequest>) => {
    const request = e.data;
    newest = Math.max(newest, request.seq);
    void replyTo(request, handler).then((reply) => {
      if (reply.seq < newest) return; // its worker gave up on it, and may be reading a newer reply
      const bytes = encoded(reply);
      if (buffer.byteLength < HEADER + bytes.length) buffer.grow(HEADER + Math.min(MAX_BYTES, Math.max(bytes.length, 2 * (buffer.byteLength - HEADER))));
      new Uint8Array(buffer, HEADER, bytes.length).set(bytes);
      Atomics.store(words, LENGTH, bytes.length);
      Atomics.store(words, SEQ, reply.seq);
      Atomics.add(words, COUNT, 1);
      Atomics.notify(words, COUNT);
    });
  };
  return { worker: { port: port2, buffer }, transfer: [port2], close: () => port1.close() };
}

/** The reply's bytes, or those of the error that replaces a reply that cannot be carried. */
function encoded(reply: BridgeReply): Uint8Array {
  let failed: BridgeReply;
  try {
    const bytes = encoder.encode(reply);
    if (bytes.length <= MAX_BYTES) return bytes;
    failed = { seq: reply.seq, ok: false, code: ErrorCode.PayloadTooLarge, message: `the reply to a host call is ${bytes.length} bytes, over ${MAX_BYTES}` };
  } catch (e) {
    failed = { seq: reply.seq, ok: false, code: ErrorCode.Internal, message: `the reply to a host call cannot be encoded: ${messageOf(e)}` };
  }
  return encoder.encode(failed);
}

/** Worker side: the replies of a bridge made by createSabBridge. */
export function sabReplies({ port, buffer }: SabBridgeChannel): SyncReplies {
  const words = new Int32Array(buffer, 0, 3);
  return {
    send: (request) => port.postMessage(request),
    count: () => Atomics.load(words, COUNT),
    take(seq) {
      if (Atomics.load(words, SEQ) !== seq) return undefined;
      // A copy: the decoder's byte strings are views of what it reads, and the slot is reused.
      return decoder.decode(new Uint8Array(buffer, HEADER, Atomics.load(words, LENGTH)).slice()) as BridgeReply;
    },
    wait: (seen, ms) => Atomics.wait(words, COUNT, seen, ms) !== "timed-out",
  };
}
