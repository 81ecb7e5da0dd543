/**
 * Invocations: a call to one function of a target (actor or provider), answered by exactly one
 * instance. The call and its reply travel as MessagePack: compact, binary-safe (bytes as bin),
 * with 64-bit integers as int64/uint64 and records as maps. A resource handle crossing the
 * lattice is the map `{ $resource, handle }`.
 *
 * The call's metadata (deadline, call id, source, link, trace context) rides in the body with the
 * arguments, not in NATS headers: headers cost nats.js a third of its request throughput here,
 * and every call carries them.
 */
import { Decoder, Encoder } from "@msgpack/msgpack";
import { DEFAULT_CALL_TIMEOUT_MS } from "./durations.js";
import { ErrorCode, LatticeError, type ErrorCode as ErrorCodeT } from "./errors.js";
import { MAC_BYTES, SIGNATURE_BYTES, isSessionId, isSignerKey, type CallSignature } from "./invocation-signature.js";

/** A call as it crosses the wire. */
export interface CallEnvelope {
  args: readonly unknown[];
  /** Epoch milliseconds after which the answer is useless; instances give up then. */
  deadline: number;
  /**
   * Unique per logical call, kept across retries: the idempotency key. Non-empty, at most
   * MAX_CALL_ID characters of printable ASCII. A call made while serving another derives its own
   * from that one's (`childCallId`), so a retried call makes its own calls under the same keys.
   */
  callId: string;
  /** Who calls: an actor or provider id, a host id, `cli`. */
  source: string;
  /** The link the call goes through, when not `default`. */
  link?: string;
  /** W3C trace context. */
  traceparent?: string;
  /** Who signed the call, when, and the signature (see invocation-signature.ts). */
  signature?: CallSignature;
}

/** In durations.ts, which the CLI loads without MessagePack and the schemas. */
export { DEFAULT_CALL_TIMEOUT_MS };
/** Longest call id (idempotency key) a call may carry. */
export const MAX_CALL_ID = 128;
const CALL_ID = /^[\x21-\x7e]+$/;

/** Why `id` cannot be a call id, or undefined when it can. */
export function callIdProblem(id: string): string | undefined {
  if (id.length === 0) return "the call has no call id (its idempotency key)";
  if (id.length > MAX_CALL_ID) return `the call id is ${id.length} characters, over ${MAX_CALL_ID}`;
  if (!CALL_ID.test(id)) return "the call id must be printable ASCII without spaces";
  return undefined;
}

/**
 * The call id of the `seq`th call (from 0) made while serving call `parent`: the same for a retry
 * of `parent`, wherever it runs, as long as the code makes its calls in the same order, so that
 * what they do is done once. Beyond MAX_CALL_ID characters the parent's part becomes a hash.
 */
export function childCallId(parent: string, seq: number): string {
  const id = `${parent}.${seq}`;
  return id.length <= MAX_CALL_ID ? id : `~${hash128(parent)}.${seq}`;
}

/** 128 bits of two seeded 53-bit-ish string hashes (cyrb53), in base 36: not cryptographic. */
function hash128(text: string): string {
  const half = (seed: number) => {
    let h1 = 0xdeadbeef ^ seed;
    let h2 = 0x41c6ce57 ^ seed;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 2654435761);
      h2 = Math.imul(h2 ^ c, 1597334677);
    }
    h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
    h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
    return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
  };
  return `${half(1)}${half(2)}`;
}
/** Bigger arguments or results are refused rather than cut: NATS' default max payload is 1 MiB. */
export const MAX_INVOCATION_PAYLOAD = 1024 * 1024 - 4 * 1024;

export interface InvocationError {
  code: ErrorCodeT;
  message: string;
  /** For `guest_error`: the error value of the function's `result`, as a component value. */
  payload?: unknown;
}

/**
 * `by`: the host (or provider) whose instance answered; `at`: the address of the member that
 * answered, to send it later calls directly (`Subjects.invocationDirect`).
 */
export type InvocationReply = ({ ok: true; value: unknown } | { ok: false; error: InvocationError }) & { by?: string; at?: string };

/** A resource handle on the wire: which resource type, and the owner's handle for it. */
export interface ResourceRef {
  $resource: string;
  handle: string | number;
}

export function isResourceRef(v: unknown): v is ResourceRef {
  return typeof v === "object" && v !== null && typeof (v as ResourceRef).$resource === "string" && "handle" in v;
}

// One encoder and decoder for the process: making them per message costs more than the coding.
// A component value has no `undefined`: an absent option or a unit result is nil.
const encoder = new Encoder({ useBigInt64: true, ignoreUndefined: false });
const decoder = new Decoder({ useBigInt64: true });

function sized(bytes: Uint8Array, what: string): Uint8Array {
  if (bytes.length > MAX_INVOCATION_PAYLOAD) {
    throw new LatticeError(ErrorCode.PayloadTooLarge, `${what}: ${bytes.length} bytes, over the invocation limit of ${MAX_INVOCATION_PAYLOAD}`);
  }
  return bytes;
}

function encodeValue(v: unknown): Uint8Array {
  return encoder.encode(v);
}

/**
 * The wire form of a call: `[args, deadline, callId, source, link, traceparent]`, and for a
 * signed call `signer, issuedAt, signature` after them, or `signer, issuedAt, session, mac` in
 * session mode (older receivers ignore the extra fields).
 */
export function encodeCall(c: CallEnvelope): Uint8Array {
  const fields: unknown[] = [c.args, c.deadline, c.callId, c.source, c.link ?? null, c.traceparent ?? null];
  const sig = c.signature;
  if (sig) fields.push(sig.signer, sig.issuedAt, ...(sig.session === undefined ? [] : [sig.session]), sig.signature);
  return sized(encodeValue(fields), "the arguments");
}

/** A signer's and a session's fields, MessagePack-encoded once per session (see `encodeSessionCall`). */
export interface SessionFields {
  signer: Uint8Array;
  session: Uint8Array;
}

export function sessionFields(signer: string, session: string): SessionFields {
  return { signer: encodeValue(signer), session: encodeValue(session) };
}

/**
 * Exactly what `encodeCall` makes of a session-mode call with a zeroed MAC, with the fields that
 * do not change between calls encoded once per session: the unsigned encoding (a fixarray of 6),
 * its header made a fixarray of 10, then signer, issued-at (float 64, as the encoder writes epoch
 * milliseconds), session and the MAC's bin 8 placeholder. (Any float 64 decodes as the same number.)
 */
export function encodeSessionCall(c: CallEnvelope, fixed: SessionFields, issuedAt: number): Uint8Array {
  const head = encodeCall(c);
  if (head[0] !== 0x96) throw new LatticeError(ErrorCode.Internal, "an unsigned call is a fixarray of 6");
  const out = new Uint8Array(head.length + fixed.signer.length + 9 + fixed.session.length + 2 + MAC_BYTES);
  out.set(head);
  out[0] = 0x9a;
  let at = head.length;
  out.set(fixed.signer, at);
  at += fixed.signer.length;
  out[at] = 0xcb;
  new DataView(out.buffer, out.byteOffset + at + 1, 8).setFloat64(0, issuedAt);
  at += 9;
  out.set(fixed.session, at);
  at += fixed.session.length;
  out[at] = 0xc4;
  out[at + 1] = MAC_BYTES;
  return sized(out, "the arguments");
}

export function decodeCall(bytes: Uint8Array): CallEnvelope {
  sized(bytes, "the arguments");
  let v: unknown;
  try {
    v = decoder.decode(bytes);
  } catch {
    throw new LatticeError(ErrorCode.BadRequest, "invocation is not valid MessagePack");
  }
  if (!Array.isArray(v) || v.length < 4) throw new LatticeError(ErrorCode.BadRequest, "invocation must be [args, deadline, callId, source, link, traceparent]");
  const [args, deadline, callId, source, link, traceparent, ...signed] = v as unknown[];
  if (!Array.isArray(args)) throw new LatticeError(ErrorCode.BadRequest, "invocation arguments must be an array");
  const when = typeof deadline === "bigint" ? Number(deadline) : deadline;
  if (typeof when !== "number" || !Number.isFinite(when) || typeof callId !== "string" || typeof source !== "string") {
    throw new LatticeError(ErrorCode.BadRequest, "invocation deadline, call id or source is malformed");
  }
  const badId = callIdProblem(callId);
  if (badId) throw new LatticeError(ErrorCode.BadRequest, badId);
  return {
    args,
    deadline: when,
    callId,
    source,
    ...(typeof link === "string" ? { link } : {}),
    ...(typeof traceparent === "string" ? { traceparent } : {}),
    ...signatureFields(signed),
  };
}

/**
 * The signature of a call, when its fields are well-formed and last: three (Ed25519) or four
 * (session, MAC); else none (unsigned).
 */
function signatureFields(fields: unknown[]): { signature?: CallSignature } {
  if (fields.length !== 3 && fields.length !== 4) return {};
  const [signer, issuedAt] = fields;
  const at = typeof issuedAt === "bigint" ? Number(issuedAt) : issuedAt;
  const signature = fields[fields.length - 1];
  if (typeof signer !== "string" || !isSignerKey(signer) || typeof at !== "number" || !Number.isSafeInteger(at)) return {};
  if (fields.length === 3) {
    if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_BYTES) return {};
    return { signature: { signer, issuedAt: at, signature } };
  }
  const session = fields[2];
  if (typeof session !== "string" || !isSessionId(session) || !(signature instanceof Uint8Array) || signature.length !== MAC_BYTES) return {};
  return { signature: { signer, issuedAt: at, session, signature } };
}

export function encodeReply(reply: InvocationReply): Uint8Array {
  return encodeValue(reply);
}

/** Encode a successful result, turning an oversized one into a payload_too_large error reply. */
export function encodeResult(value: unknown, by?: string, at?: string): Uint8Array {
  const bytes = encodeReply({ ok: true, value: value === undefined ? null : value, by, ...(at ? { at } : {}) });
  if (bytes.length <= MAX_INVOCATION_PAYLOAD) return bytes;
  return encodeReply({ ok: false, error: { code: ErrorCode.PayloadTooLarge, message: `the result is ${bytes.length} bytes, over the invocation limit of ${MAX_INVOCATION_PAYLOAD}` }, by, ...(at ? { at } : {}) });
}

export function decodeReply(bytes: Uint8Array): InvocationReply {
  let v: unknown;
  try {
    v = decoder.decode(bytes);
  } catch {
    throw new LatticeError(ErrorCode.BadReply, "invocation reply is not valid MessagePack");
  }
  const r = v as Partial<InvocationReply> | null;
  if (r && r.ok === true && "value" in r) return r as InvocationReply;
  if (r && r.ok === false && typeof r.error?.code === "string" && typeof r.error.message === "string") return r as InvocationReply;
  throw new LatticeError(ErrorCode.BadReply, "invocation reply is neither {ok:true,value} nor {ok:false,error}");
}

/** The error a failed reply stands for, payload included. */
export function replyError(error: InvocationError): LatticeError {
  const e = new LatticeError(error.code, error.message);
  if (error.payload !== undefined) e.payload = error.payload;
  return e;
}
