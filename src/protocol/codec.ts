/**
 * JSON codec for control messages and events: size limit first, then parse, then schema check.
 * Every message received from the wire goes through `decode`, so handlers only see valid data.
 */
import { FormatRegistry, type Static, type TSchema } from "@sinclair/typebox";
import { TypeCompiler, type TypeCheck } from "@sinclair/typebox/compiler";
import { ErrorCode, LatticeError } from "./errors.js";

/** Largest control request or reply a host accepts (bytes). */
export const MAX_CONTROL_PAYLOAD = 128 * 1024;
/** Largest event a view accepts (bytes). */
export const MAX_EVENT_PAYLOAD = 64 * 1024;

// RFC 3339 date-time, the format of every timestamp in the protocol.
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
if (!FormatRegistry.Has("date-time")) FormatRegistry.Set("date-time", (v) => DATE_TIME.test(v) && !Number.isNaN(Date.parse(v)));

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>();

function checker<T extends TSchema>(schema: T): TypeCheck<T> {
  let c = compiled.get(schema);
  if (!c) {
    c = TypeCompiler.Compile(schema);
    compiled.set(schema, c);
  }
  return c as TypeCheck<T>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Validate a value against a schema; throw `bad_request` naming the first few problems. */
export function validate<T extends TSchema>(schema: T, value: unknown, what: string): Static<T> {
  const c = checker(schema);
  if (c.Check(value)) return value;
  const problems: string[] = [];
  for (const e of c.Errors(value)) {
    problems.push(`${e.path || "/"}: ${e.message}`);
    if (problems.length === 3) break;
  }
  throw new LatticeError(ErrorCode.BadRequest, `invalid ${what}: ${problems.join("; ")}`);
}

/** Every way a value misses a schema, as JSON-pointer path and reason (empty when it matches). */
export function schemaProblems(schema: TSchema, value: unknown): Array<{ path: string; message: string }> {
  const c = checker(schema);
  if (c.Check(value)) return [];
  return [...c.Errors(value)].map((e) => ({ path: e.path || "/", message: e.message }));
}

/**
 * Decode a wire payload. An empty payload reads as `{}` (so `nats req subject ""` works).
 * Throws LatticeError `payload_too_large` or `bad_request`.
 */
export function decode<T extends TSchema>(schema: T, bytes: Uint8Array, what: string, limit = MAX_CONTROL_PAYLOAD): Static<T> {
  if (bytes.length > limit) {
    throw new LatticeError(ErrorCode.PayloadTooLarge, `${what} is ${bytes.length} bytes, over the limit of ${limit}`);
  }
  let value: unknown = {};
  if (bytes.length > 0) {
    try {
      value = JSON.parse(decoder.decode(bytes));
    } catch {
      throw new LatticeError(ErrorCode.BadRequest, `${what} is not valid UTF-8 JSON`);
    }
  }
  return validate(schema, value, what);
}

export function encode(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}
