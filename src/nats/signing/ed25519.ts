/**
 * Ed25519 with nkeys at native speed: node:crypto where it exists, WebCrypto (`crypto.subtle`)
 * elsewhere (a browser). tweetnacl, which @nats-io/nkeys signs with, takes milliseconds per
 * signature on the bench machine; OpenSSL tens of microseconds (see docs/benchmarks.md). nkeys
 * still decodes and checks the keys.
 */
import { fromPublic, fromSeed } from "@nats-io/nkeys";
import { ErrorCode, LatticeError, base32Decode, isSignerKey } from "../../protocol/index.js";
import { nodeCrypto } from "./node-crypto.js";

export type Sign = (message: Uint8Array) => Uint8Array | Promise<Uint8Array>;
export type Verify = (message: Uint8Array, signature: Uint8Array) => boolean | Promise<boolean>;

/** An Ed25519 implementation: keys from their raw 32 bytes. */
interface Ed25519 {
  readonly name: string;
  signer(seed: Uint8Array): Sign;
  verifier(publicKey: Uint8Array): Verify;
}

/** PKCS #8 wrapping of a raw 32-byte Ed25519 seed (RFC 8410): neither API imports raw private keys. */
const PKCS8_PREFIX = new Uint8Array([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
/** SPKI wrapping of a raw 32-byte Ed25519 public key. */
const SPKI_PREFIX = new Uint8Array([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);

function wrap(prefix: Uint8Array, raw: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(prefix.length + raw.length);
  out.set(prefix);
  out.set(raw, prefix.length);
  return out;
}

/** WebCrypto: everywhere (browsers, Node, Deno), asynchronous. */
const webCrypto: Ed25519 = {
  name: "webcrypto",
  signer(seed) {
    const key = crypto.subtle.importKey("pkcs8", wrap(PKCS8_PREFIX, seed), "Ed25519", false, ["sign"]);
    return async (m) => new Uint8Array(await crypto.subtle.sign("Ed25519", await key, buffer(m)));
  },
  verifier(publicKey) {
    const key = crypto.subtle.importKey("raw", buffer(publicKey), "Ed25519", false, ["verify"]);
    return async (m, sig) => crypto.subtle.verify("Ed25519", await key, buffer(sig), buffer(m));
  },
};

/** node:crypto, synchronous: the same OpenSSL code without WebCrypto's promise and thread-pool hop per operation. */
function nodeEd25519(): Ed25519 | undefined {
  const c = nodeCrypto;
  if (!c) return undefined;
  return {
    name: "node:crypto",
    signer(seed) {
      const key = c.createPrivateKey({ key: Buffer.from(wrap(PKCS8_PREFIX, seed)), format: "der", type: "pkcs8" });
      return (m) => c.sign(null, m, key);
    },
    verifier(publicKey) {
      const key = c.createPublicKey({ key: Buffer.from(wrap(SPKI_PREFIX, publicKey)), format: "der", type: "spki" });
      return (m, sig) => c.verify(null, m, key, sig);
    },
  };
}

const ed25519: Ed25519 = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.LATTICE_ED25519 === "webcrypto" ? webCrypto : (nodeEd25519() ?? webCrypto);

/** One nkey that signs. The seed stays in this object (as a key object, not extractable by WebCrypto). */
export class SigningKey {
  readonly publicKey: string;
  readonly sign: Sign;

  constructor(seed: string) {
    let raw: Uint8Array;
    try {
      const text = seed.trim();
      this.publicKey = fromSeed(new TextEncoder().encode(text)).getPublicKey();
      raw = base32Decode(text).subarray(2, 34); // 2 prefix bytes, the seed, 2 checksum bytes
    } catch (e) {
      throw new LatticeError(ErrorCode.BadRequest, "the signing seed is not an nkey seed (S…)", { cause: e });
    }
    if (!isSignerKey(this.publicKey)) throw new LatticeError(ErrorCode.BadRequest, "the signing seed must be a server, user, account, operator or cluster nkey seed");
    this.sign = ed25519.signer(raw);
  }
}

/** Verifiers by public key, made once each (bounded). A key that is not an nkey fails to verify. */
export class VerifyingKeys {
  private readonly keys = new Map<string, Verify>();

  constructor(private readonly max = 4_096) {}

  /** Whether `signature` is `publicKey`'s over `message`; false for a malformed key or signature. */
  async verify(publicKey: string, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
    try {
      return await this.get(publicKey)(message, signature);
    } catch {
      return false;
    }
  }

  private get(publicKey: string): Verify {
    let key = this.keys.get(publicKey);
    if (!key) {
      key = ed25519.verifier(rawPublicKey(publicKey));
      if (this.keys.size >= this.max) this.keys.delete(this.keys.keys().next().value!);
      this.keys.set(publicKey, key);
    }
    return key;
  }
}

/** The 32 Ed25519 bytes of an nkey public key (nkeys checks prefix and checksum first). */
function rawPublicKey(key: string): Uint8Array {
  fromPublic(key);
  return base32Decode(key).subarray(1, 33);
}

/** NATS messages and our buffers are never shared memory: WebCrypto's types just cannot know. */
export function buffer(b: Uint8Array): Uint8Array<ArrayBuffer> {
  return b as Uint8Array<ArrayBuffer>;
}
