/**
 * Names, keys and ids of the protocol, each with its pattern and its check. Plain regular
 * expressions, no schemas: the CLI checks its flags with these while it parses them, before it
 * loads anything else (claims.ts, links.ts, invocation-signature.ts re-export theirs from here).
 */
import { ErrorCode, LatticeError } from "./errors.js";

/** A lattice name is one NATS subject token: it prefixes every subject the lattice uses. */
export const LATTICE_NAME_PATTERN = "^[A-Za-z0-9_-]{1,64}$";
/** A host id is the public key of the host's nkey (a server key: 'N' and 55 base32 characters). */
export const HOST_ID_PATTERN = "^N[A-Z2-7]{55}$";
/** Label keys look like Kubernetes label keys; values are free text up to 256 characters. */
export const LABEL_KEY_PATTERN = "^[A-Za-z0-9]([A-Za-z0-9._/-]{0,62}[A-Za-z0-9])?$";
export const MAX_LABEL_VALUE = 256;
/** Actor and provider ids (targets of invocations): one subject token. */
export const TARGET_ID_PATTERN = "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$";
export const MAX_HOST_NAME = 128;

const latticeName = new RegExp(LATTICE_NAME_PATTERN);
const hostId = new RegExp(HOST_ID_PATTERN);
const labelKey = new RegExp(LABEL_KEY_PATTERN);
const targetId = new RegExp(TARGET_ID_PATTERN);

export function assertLatticeName(name: string): string {
  if (!latticeName.test(name)) {
    throw new LatticeError(
      ErrorCode.BadRequest,
      `invalid lattice name ${JSON.stringify(name)}: use 1-64 letters, digits, '_' or '-'`,
    );
  }
  return name;
}

export function isHostId(id: string): boolean {
  return hostId.test(id);
}

export function assertHostId(id: string): string {
  if (!isHostId(id)) {
    throw new LatticeError(ErrorCode.BadRequest, `invalid host id ${JSON.stringify(id)}: expected an nkey server public key (N…, 56 characters)`);
  }
  return id;
}

export function assertLabel(key: string, value: string): void {
  if (!labelKey.test(key)) {
    throw new LatticeError(ErrorCode.BadRequest, `invalid label key ${JSON.stringify(key)}: letters, digits, '.', '_', '/', '-', at most 64`);
  }
  if (value.length > MAX_LABEL_VALUE) {
    throw new LatticeError(ErrorCode.BadRequest, `label ${key} is longer than ${MAX_LABEL_VALUE} characters`);
  }
}

export function assertTargetId(id: string): string {
  if (!targetId.test(id)) {
    throw new LatticeError(ErrorCode.BadRequest, `invalid id ${JSON.stringify(id)}: use 1-64 letters, digits, '_' or '-', starting with a letter or digit`);
  }
  return id;
}

/** Labels (or any string map) as people write them: `zone=eu,tier=gold`; empty when there are none. */
export function labelText(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}

/** An issuer: an account (`A…`) or operator (`O…`) public key. */
export const ISSUER_KEY_PATTERN = "^[AO][A-Z2-7]{55}$";
const issuerKey = new RegExp(ISSUER_KEY_PATTERN);

/** Throw `bad_request` unless `key` is an issuer public key (account `A…` or operator `O…`). */
export function assertIssuerKey(key: string): string {
  if (!issuerKey.test(key)) throw new LatticeError(ErrorCode.BadRequest, `invalid issuer ${JSON.stringify(key)}: expected an nkey account (A…) or operator (O…) public key`);
  return key;
}

/** Who may sign: an nkey public key of a kind that signs (server `N`, user `U`, account `A`, operator `O`, cluster `C`). */
export const SIGNER_KEY_PATTERN = "^[NUAOC][A-Z2-7]{55}$";
const signerKey = new RegExp(SIGNER_KEY_PATTERN);

export function isSignerKey(key: string): boolean {
  return signerKey.test(key);
}

/** `namespace:package/interface` (one interface) or `namespace:package` (all of the package's). */
export const LINK_INTERFACE_PATTERN = "^[a-z0-9-]+:[a-z0-9-]+(/[a-z0-9-]+)?$";
export const LINK_NAME_PATTERN = "^[a-z0-9][a-z0-9_-]{0,63}$";
export const CONFIG_NAME_PATTERN = "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$";
export const DEFAULT_LINK_NAME = "default";

const linkIface = new RegExp(LINK_INTERFACE_PATTERN);
const linkName = new RegExp(LINK_NAME_PATTERN);
const configName = new RegExp(CONFIG_NAME_PATTERN);

export function assertLinkInterface(iface: string): string {
  if (!linkIface.test(iface)) {
    throw new LatticeError(ErrorCode.BadRequest, `invalid link interface ${JSON.stringify(iface)}: expected namespace:package/interface (e.g. wasi:keyvalue/store) or namespace:package, without a version`);
  }
  return iface;
}

export function assertLinkName(name: string): string {
  if (!linkName.test(name)) throw new LatticeError(ErrorCode.BadRequest, `invalid link name ${JSON.stringify(name)}: lower-case letters, digits, '_' or '-'`);
  return name;
}

export function assertConfigName(name: string): string {
  if (!configName.test(name)) throw new LatticeError(ErrorCode.BadRequest, `invalid config name ${JSON.stringify(name)}: letters, digits, '_' or '-'`);
  return name;
}

const jetStreamDomain = /^[A-Za-z0-9_-]{1,64}$/;

/** Throws `bad_request` unless `domain` is one subject token (what nats-server accepts). */
export function assertJetStreamDomain(domain: string): string {
  if (!jetStreamDomain.test(domain)) {
    throw new LatticeError(ErrorCode.BadRequest, `invalid JetStream domain ${JSON.stringify(domain)}: use 1-64 letters, digits, '_' or '-'`);
  }
  return domain;
}
