/**
 * Module nkeys (`M…` public keys, `SM…` seeds): the identity of a signed actor, as wasmCloud
 * names it. @nats-io/nkeys knows no module prefix, so this re-labels an account key pair: the
 * Ed25519 key is the same, only the prefix byte (and so the checksum) differs. Module keys are
 * identities only; the issuer's key (account or operator) is the one that signs.
 */
import { createAccount, fromSeed } from "@nats-io/nkeys";
import { base32Decode, base32Encode } from "./base32.js";
import { ErrorCode, LatticeError } from "./errors.js";

const PREFIX_SEED = 18 << 3; // 'S'
const PREFIX_ACCOUNT = 0; // 'A'
const PREFIX_MODULE = 12 << 3; // 'M'

export interface ModuleKey {
  publicKey: string;
  /** Secret: keeps the same subject key across signings (`lattice sign --subject`). */
  seed: string;
}

/** A fresh module identity. */
export function createModuleKey(): ModuleKey {
  const seed = relabelSeed(createAccount().getSeed(), PREFIX_ACCOUNT, PREFIX_MODULE);
  return moduleKeyFromSeed(new TextDecoder().decode(seed));
}

/** The module identity of an `SM…` seed; throws `Error` with a plain reason if it is not one. */
export function moduleKeyFromSeed(seed: string): ModuleKey {
  const accountSeed = relabelSeed(new TextEncoder().encode(seed), PREFIX_MODULE, PREFIX_ACCOUNT);
  const accountKey = fromSeed(accountSeed).getPublicKey();
  const raw = unpack(accountKey);
  raw[0] = PREFIX_MODULE;
  return { publicKey: pack(raw), seed };
}

/** True for a well-formed `M…` public key (prefix, length and checksum). */
export function isModulePublicKey(key: string): boolean {
  try {
    const raw = unpack(key);
    return raw.length === 33 && raw[0] === PREFIX_MODULE;
  } catch {
    return false;
  }
}

function relabelSeed(seed: Uint8Array, from: number, to: number): Uint8Array {
  const raw = unpack(new TextDecoder().decode(seed));
  // A seed's two prefix bytes carry 'S' and the role, 5 bits each, so both print readably.
  const role = ((raw[0]! & 0x07) << 5) | (raw[1]! >> 3);
  if (raw.length !== 34 || (raw[0]! & 0xf8) !== PREFIX_SEED || role !== from) {
    throw new LatticeError(ErrorCode.BadRequest, `not an nkey ${from === PREFIX_MODULE ? "module (SM…)" : "account (SA…)"} seed`);
  }
  raw[0] = PREFIX_SEED | (to >> 5);
  raw[1] = (to & 0x1f) << 3;
  return new TextEncoder().encode(pack(raw));
}

/** Payload + CRC-16 (XMODEM, little-endian), base32 without padding. */
function pack(payload: Uint8Array): string {
  const crc = crc16(payload);
  return base32Encode([...payload, crc & 0xff, crc >> 8]);
}

/** The payload of an encoded key, checksum verified. */
function unpack(s: string): Uint8Array {
  const raw = base32Decode(s);
  if (raw.length < 4) throw new LatticeError(ErrorCode.BadRequest, "key too short");
  const payload = raw.subarray(0, raw.length - 2);
  if (crc16(payload) !== (raw[raw.length - 2]! | (raw[raw.length - 1]! << 8))) throw new LatticeError(ErrorCode.BadRequest, "bad key checksum");
  return Uint8Array.from(payload);
}

function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const b of bytes) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}
