// Locating the nats-server executable. Node-only (file system, child processes).
import { execFile } from "node:child_process";
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, join } from "node:path";
import { ErrorCode, LatticeError } from "../../protocol/index.js";

/** Directories searched after PATH: where distro packages and manual installs usually put it. */
const FALLBACK_DIRS = ["/usr/sbin", "/usr/local/sbin", "/usr/local/bin", "/usr/bin"];

const EXE = process.platform === "win32" ? "nats-server.exe" : "nats-server";

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** An executable named `name` on PATH, else in the usual system directories. */
export function findExecutable(name: string): string | undefined {
  const pathDirs = (process.env["PATH"] ?? "").split(delimiter).filter((d) => d !== "");
  for (const dir of [...pathDirs, ...FALLBACK_DIRS]) {
    const candidate = join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Path of the nats-server binary: `$LATTICE_NATS_SERVER` if set (and executable), else the first
 * match on PATH, else the usual system directories. `undefined` when none is found.
 */
export function findNatsServer(): string | undefined {
  const override = process.env["LATTICE_NATS_SERVER"];
  // An explicit override is authoritative: don't silently fall back to another binary.
  if (override) return isExecutableFile(override) ? override : undefined;
  return findExecutable(EXE);
}

export const NATS_SERVER_INSTALL_HINT =
  "Install it with `sudo apt-get install -y nats-server` (Debian/Ubuntu), or run `npm run setup`, " +
  "or set LATTICE_NATS_SERVER to its path.";

/** Like {@link findNatsServer}, but throws an Error that says how to install it. */
export function requireNatsServer(): string {
  const found = findNatsServer();
  if (found !== undefined) return found;
  const override = process.env["LATTICE_NATS_SERVER"];
  if (override) {
    throw new LatticeError(
      ErrorCode.BadRequest,
      `LATTICE_NATS_SERVER is set to ${JSON.stringify(override)}, which is not an executable file. ` +
        "Point it at a nats-server binary, or unset it to search PATH.",
    );
  }
  throw new LatticeError(ErrorCode.NotFound, `nats-server was not found on PATH (nor in ${FALLBACK_DIRS.join(", ")}). ${NATS_SERVER_INSTALL_HINT}`);
}

/** The version reported by `nats-server --version`, e.g. "2.9.10" (the leading "v" dropped). */
export function natsServerVersion(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(path, ["--version"], { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`${path} --version failed: ${err.message}`));
        return;
      }
      // Prints "nats-server: v2.9.10".
      const out = `${stdout}${stderr}`.trim();
      const m = /v?(\d+\.\d+\.\d+\S*)/.exec(out);
      resolve(m?.[1] ?? out);
    });
  });
}
