/** Where Chromium is: `$LATTICE_CHROMIUM`, else `chromium` (Debian) or `chromium-browser` on PATH. */
import { findExecutable } from "../../src/nats/node/server-binary.js";

export function findChromium(): string | undefined {
  const override = process.env["LATTICE_CHROMIUM"];
  if (override) return findExecutable(override) ?? (override.startsWith("/") ? override : undefined);
  return findExecutable("chromium") ?? findExecutable("chromium-browser") ?? findExecutable("google-chrome");
}
