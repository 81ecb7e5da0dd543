/** Artifact references: `NAME[:VERSION]`, the names components are pushed and started by. */
import { ErrorCode, LatticeError } from "./errors.js";

export const ARTIFACT_NAME_PATTERN = "^[a-z0-9][a-z0-9._-]{0,127}$";
export const ARTIFACT_VERSION_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$";
/** The version a reference without one means: the most recently pushed. */
export const LATEST = "latest";

const nameRe = new RegExp(ARTIFACT_NAME_PATTERN);
const versionRe = new RegExp(ARTIFACT_VERSION_PATTERN);

export interface ArtifactRef {
  name: string;
  version: string;
}

export function parseArtifactRef(ref: string): ArtifactRef {
  const colon = ref.indexOf(":");
  const name = colon < 0 ? ref : ref.slice(0, colon);
  const version = colon < 0 ? LATEST : ref.slice(colon + 1);
  if (!nameRe.test(name)) {
    throw new LatticeError(ErrorCode.BadRequest, `invalid artifact name ${JSON.stringify(name)}: lower-case letters, digits, '.', '_', '-', starting with a letter or digit`);
  }
  if (!versionRe.test(version)) {
    throw new LatticeError(ErrorCode.BadRequest, `invalid artifact version ${JSON.stringify(version)} in ${JSON.stringify(ref)}`);
  }
  return { name, version };
}

export function formatArtifactRef(ref: ArtifactRef): string {
  return `${ref.name}:${ref.version}`;
}
