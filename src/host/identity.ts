/** A host's nkey identity: the public key of a server-type nkey is the host id. */
import { createServer, fromSeed, type KeyPair } from "@nats-io/nkeys";
import { ErrorCode, LatticeError } from "../protocol/index.js";

export interface HostIdentity {
  readonly id: string;
  readonly keys: KeyPair;
}

/** A fresh identity, or the one of a seed (`SN…`) so a host can keep its id across restarts. */
export function hostIdentity(seed?: string): HostIdentity {
  let keys: KeyPair;
  if (seed === undefined) {
    keys = createServer();
  } else {
    if (!seed.startsWith("SN")) throw new LatticeError(ErrorCode.BadRequest, "a host seed must be an nkey server seed (starts with SN)");
    keys = fromSeed(new TextEncoder().encode(seed));
  }
  return { id: keys.getPublicKey(), keys };
}
