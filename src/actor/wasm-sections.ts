/**
 * The top-level sections of a WebAssembly module or component, and custom sections (id 0) by
 * name: read one, remove every copy, append one. Custom sections may sit anywhere and runtimes
 * ignore them, so adding one changes nothing about how the code runs. Pure byte work,
 * browser-safe.
 */
import { ErrorCode, LatticeError } from "../protocol/errors.js";
import { wasmKind } from "../nats/wasm-binary.js";

export interface Section {
  id: number;
  /** Where the section starts (its id byte) and ends, in the binary. */
  start: number;
  end: number;
  /** Custom sections: the name, and where the content after it starts. */
  name?: string;
  contentStart?: number;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Top-level sections of a module or component. Throws `bad_request` for anything malformed. */
export function sections(bytes: Uint8Array): Section[] {
  if (!wasmKind(bytes)) throw new LatticeError(ErrorCode.BadRequest, "not a WebAssembly module or component");
  const out: Section[] = [];
  let at = 8;
  while (at < bytes.length) {
    const start = at;
    const id = bytes[at++]!;
    const [size, afterSize] = readLeb(bytes, at);
    const end = afterSize + size;
    if (end > bytes.length) throw malformed(`section at byte ${start} runs past the end`);
    const s: Section = { id, start, end };
    if (id === 0) {
      const [len, afterLen] = readLeb(bytes, afterSize);
      if (afterLen + len > end) throw malformed(`custom section name at byte ${start} runs past its section`);
      try {
        s.name = utf8.decode(bytes.subarray(afterLen, afterLen + len));
      } catch {
        throw malformed(`custom section name at byte ${start} is not UTF-8`);
      }
      s.contentStart = afterLen + len;
    }
    out.push(s);
    at = end;
  }
  return out;
}

/** The contents of every top-level custom section called `name`, in order. */
export function customSections(bytes: Uint8Array, name: string): Uint8Array[] {
  return sections(bytes)
    .filter((s) => s.name === name)
    .map((s) => bytes.subarray(s.contentStart, s.end));
}

/** The bytes without any top-level custom section called `name`. */
export function withoutCustomSection(bytes: Uint8Array, name: string): Uint8Array {
  const drop = sections(bytes).filter((s) => s.name === name);
  if (drop.length === 0) return bytes;
  const parts: Uint8Array[] = [];
  let at = 0;
  for (const s of drop) {
    parts.push(bytes.subarray(at, s.start));
    at = s.end;
  }
  parts.push(bytes.subarray(at));
  return concat(parts);
}

/** The bytes with `content` as their only custom section called `name`, appended at the end. */
export function withCustomSection(bytes: Uint8Array, name: string, content: Uint8Array): Uint8Array {
  const encodedName = new TextEncoder().encode(name);
  const body = [...encodeLeb(encodedName.length), ...encodedName];
  const header = Uint8Array.from([0, ...encodeLeb(body.length + content.length), ...body]);
  return concat([withoutCustomSection(bytes, name), header, content]);
}

/** An unsigned LEB128 u32 at `at`: [value, offset after it]. */
export function readLeb(bytes: Uint8Array, at: number): [number, number] {
  let value = 0;
  for (let i = 0; i < 5; i++) {
    if (at + i >= bytes.length) throw malformed("truncated length");
    const b = bytes[at + i]!;
    value += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) return [value, at + i + 1];
  }
  throw malformed("length longer than 5 bytes");
}

export function encodeLeb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

export function malformed(what: string): LatticeError {
  return new LatticeError(ErrorCode.BadRequest, `malformed WebAssembly: ${what}`);
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
