/**
 * What a blob of bytes is, before anything tries to run it: a WebAssembly component, a core
 * module, or neither. Pure and browser-safe (WebCrypto for the digest).
 */
import { ErrorCode, LatticeError } from "../protocol/errors.js";

export type WasmKind = "component" | "module";

const MAGIC = [0x00, 0x61, 0x73, 0x6d]; // "\0asm"

/** The kind of a WebAssembly binary from its 8-byte preamble (magic, version, layer). */
export function wasmKind(bytes: Uint8Array): WasmKind | undefined {
  if (bytes.length < 8 || MAGIC.some((b, i) => bytes[i] !== b)) return undefined;
  // Layer 0 is a core module (version 1); layer 1 is a component.
  const layer = bytes[6]! | (bytes[7]! << 8);
  if (layer === 1) return "component";
  if (layer === 0 && bytes[4] === 1 && bytes[5] === 0) return "module";
  return undefined;
}

/** Throw a clear `bad_request` unless the bytes are a component; `what` names them (a file, a ref). */
export function assertComponent(bytes: Uint8Array, what: string): void {
  const kind = wasmKind(bytes);
  if (kind === "component") return;
  if (kind === "module") {
    throw new LatticeError(
      ErrorCode.BadRequest,
      `${what} is a core WebAssembly module, not a component: wrap it first (\`wasm-tools component new\`, or build with componentize-js / cargo component)`,
    );
  }
  throw new LatticeError(ErrorCode.BadRequest, `${what} is not WebAssembly (${bytes.length} bytes, no \\0asm header)`);
}

/** `sha256:<hex>` of the bytes: the identity of a component everywhere in the lattice. */
export async function digestOf(bytes: Uint8Array): Promise<string> {
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return `sha256:${Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}
