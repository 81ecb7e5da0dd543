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
