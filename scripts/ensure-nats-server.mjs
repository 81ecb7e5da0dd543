// Makes sure a nats-server binary is available (used by `npm run setup` and, with --soft, by
// `npm prepare`). Plain Node, no dependencies, so it runs before the TypeScript build.
// The search mirrors src/nats/server-binary.ts: $LATTICE_NATS_SERVER, PATH, then system dirs.
//
//   node scripts/ensure-nats-server.mjs          print where it is; install or fail (exit 1)
//   node scripts/ensure-nats-server.mjs --soft   quiet when found; warn (exit 0) when missing
import { execFileSync, spawnSync } from "node:child_process";
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, join } from "node:path";

const soft = process.argv.includes("--soft");
const EXE = process.platform === "win32" ? "nats-server.exe" : "nats-server";
const FALLBACK_DIRS = ["/usr/sbin", "/usr/local/sbin", "/usr/local/bin", "/usr/bin"];
const INSTRUCTIONS =
  "Install it with `sudo apt-get install -y nats-server` (Debian/Ubuntu), or download a release from " +
  "https://github.com/nats-io/nats-server/releases, or set LATTICE_NATS_SERVER to its path; " +
  "then run `npm run setup` to check.";

function isExecutableFile(path) {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function searchDirs() {
  return [...(process.env.PATH ?? "").split(delimiter).filter((d) => d !== ""), ...FALLBACK_DIRS];
}

function findIn(dirs, exe) {
  for (const dir of dirs) {
    const candidate = join(dir, exe);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

function find() {
  const override = process.env.LATTICE_NATS_SERVER;
  if (override) return isExecutableFile(override) ? override : undefined;
  return findIn(searchDirs(), EXE);
}

function version(path) {
  try {
    return execFileSync(path, ["--version"], { encoding: "utf8", timeout: 10_000 }).trim().replace(/^nats-server:\s*/, "");
  } catch {
    return "version unknown";
  }
}

function report(path) {
  if (!soft) console.log(`nats-server: ${path} (${version(path)})`);
  process.exit(0);
}

function fail(message) {
  if (soft) {
    console.warn(`warning: ${message}\n${INSTRUCTIONS}\n(lattice needs nats-server for \`lattice up\` and the tests.)`);
    process.exit(0);
  }
  console.error(`${message}\n${INSTRUCTIONS}`);
  process.exit(1);
}

const found = find();
if (found) report(found);

if (process.env.LATTICE_NATS_SERVER) {
  fail(`LATTICE_NATS_SERVER=${JSON.stringify(process.env.LATTICE_NATS_SERVER)} is not an executable file.`);
}

const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
const aptGet = findIn(searchDirs(), "apt-get");
if (!isRoot || !aptGet) fail("nats-server was not found on PATH.");

// Root on Debian/Ubuntu (containers, CI): install the distro package.
console.log("nats-server not found; installing it with apt-get...");
const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
for (const args of [["update"], ["install", "-y", "nats-server"]]) {
  const r = spawnSync(aptGet, args, { stdio: "inherit", env });
  if (r.status !== 0) fail(`\`apt-get ${args.join(" ")}\` failed (${r.error?.message ?? `exit code ${r.status}`}).`);
}
const installed = find();
if (!installed) fail("apt-get install finished but nats-server is still not found.");
console.log(`nats-server: ${installed} (${version(installed)})`);
