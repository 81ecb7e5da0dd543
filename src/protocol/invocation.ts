/**
 * Invocations: a call to one function of a target (actor or provider), answered by exactly one
 * instance. Arguments travel as a JSON array, and the reply as `{ ok, value | error }`; values
 * JSON cannot carry are tagged: a BigInt (u64, s64) as `{"$bigint": "123"}` and bytes
 * (list<u8>) as `{"$bytes": "<base64>"}`.
 */
import { ErrorCode, LatticeError, type ErrorCode as ErrorCodeT } from "./errors.js";

/** NATS headers of an invocation request. */
export const InvocationHeader = {
  /** Who calls: a host id, an actor id, or `cli`. */
  Source: "lattice-source",
  /** Epoch milliseconds after which the answer is useless; instances give up then. */
  Deadline: "lattice-deadline",
  /** Unique per logical call, kept across retries: the idempotency key. */
  CallId: "lattice-call-id",
  /** W3C trace context. */
  TraceParent: "traceparent",
  /** On the reply: the id of the host whose instance answered. */
  Responder: "lattice-responder",
} as const;

export const DEFAULT_CALL_TIMEOUT_MS = 10_000;
/** Bigger arguments or results are refused rather than cut: NATS' default max payload is 1 MiB. */
export const MAX_INVOCATION_PAYLOAD = 1024 * 1024 - 4 * 1024;

export type InvocationReply = { ok: true; value: unknown } | { ok: false; error: { code: ErrorCodeT; message: string } };

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

function tag(_key: string, v: unknown): unknown {
  if (typeof v === "bigint") return { $bigint: v.toString() };
  if (v instanceof Uint8Array) return { $bytes: toBase64(v) };
  return v;
}

function untag(_key: string, v: unknown): unknown {
  if (v && typeof v === "object" && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && typeof o.$bigint === "string" && /^-?\d+$/.test(o.$bigint)) return BigInt(o.$bigint);
    if (keys.length === 1 && typeof o.$bytes === "string") return fromBase64(o.$bytes);
  }
  return v;
}

function toBase64(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

function fromBase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function sized(bytes: Uint8Array, what: string): Uint8Array {
  if (bytes.length > MAX_INVOCATION_PAYLOAD) {
    throw new LatticeError(ErrorCode.PayloadTooLarge, `${what} is ${bytes.length} bytes, over the invocation limit of ${MAX_INVOCATION_PAYLOAD}`);
  }
  return bytes;
}

export function encodeArgs(args: readonly unknown[]): Uint8Array {
  return sized(encoder.encode(JSON.stringify(args, tag)), "the arguments");
}

export function decodeArgs(bytes: Uint8Array): unknown[] {
  sized(bytes, "the arguments");
  let v: unknown;
  try {
    v = bytes.length === 0 ? [] : JSON.parse(decoder.decode(bytes), untag);
  } catch {
    throw new LatticeError(ErrorCode.BadRequest, "invocation arguments are not valid UTF-8 JSON");
  }
  if (!Array.isArray(v)) throw new LatticeError(ErrorCode.BadRequest, "invocation arguments must be a JSON array");
  return v;
}

export function encodeReply(reply: InvocationReply): Uint8Array {
  return encoder.encode(JSON.stringify(reply, tag));
}

/** Encode a successful result, turning an oversized one into a payload_too_large error reply. */
export function encodeResult(value: unknown): Uint8Array {
  const bytes = encodeReply({ ok: true, value: value === undefined ? null : value });
  if (bytes.length <= MAX_INVOCATION_PAYLOAD) return bytes;
  return encodeReply({ ok: false, error: { code: ErrorCode.PayloadTooLarge, message: `the result is ${bytes.length} bytes, over the invocation limit of ${MAX_INVOCATION_PAYLOAD}` } });
}

export function decodeReply(bytes: Uint8Array): InvocationReply {
  let v: unknown;
  try {
    v = JSON.parse(decoder.decode(bytes), untag);
  } catch {
    throw new LatticeError(ErrorCode.BadReply, "invocation reply is not valid UTF-8 JSON");
  }
  const r = v as Partial<InvocationReply> | null;
  if (r && r.ok === true && "value" in r) return r as InvocationReply;
  if (r && r.ok === false && typeof r.error?.code === "string" && typeof r.error.message === "string") return r as InvocationReply;
  throw new LatticeError(ErrorCode.BadReply, "invocation reply is neither {ok:true,value} nor {ok:false,error}");
}
