// Makes sure the system tools lattice needs are there: nats-server (for `lattice up` and the
// tests), wrk (the HTTP load tool of `npm run bench`) and Chromium (the browser tests drive it
// with playwright-core). `npm run setup` runs it, and
// npm's `prepare` (with --soft) right after the TypeScript build. Uses the compiled search of
// src/nats for nats-server. As root on Debian/Ubuntu it installs what is missing with apt-get.
//
//   node scripts/ensure-tools.mjs          print where each is; install what is missing or fail (exit 1)
//   node scripts/ensure-tools.mjs --soft   quiet when all are found; warn (exit 0) when one cannot be had
import { spawnSync } from "node:child_process";
import { findExecutable, findNatsServer, natsServerVersion, NATS_SERVER_INSTALL_HINT } from "../dist/src/nats/node/server-binary.js";
import { findChromium } from "../dist/test/kit/chromium.js";

const soft = process.argv.includes("--soft");

/** Each tool: its Debian package, how to find it, and what it is needed for. */
const TOOLS = [
  { name: "nats-server", find: findNatsServer, hint: NATS_SERVER_INSTALL_HINT, forWhat: "`lattice up` and the tests" },
  { name: "wrk", find: () => findExecutable("wrk"), hint: "Install it: apt-get install wrk", forWhat: "the HTTP benchmark (npm run bench)" },
  { name: "chromium", find: findChromium, hint: "Install it: apt-get install chromium (or set LATTICE_CHROMIUM to a Chromium or Chrome binary)", forWhat: "the browser tests" },
];

function fail(message) {
  if (soft) {
    console.warn(`warning: ${message}`);
    process.exit(0);
  }
  console.error(message);
  process.exit(1);
}

if (process.env.LATTICE_NATS_SERVER && !findNatsServer()) {
  fail(`LATTICE_NATS_SERVER=${JSON.stringify(process.env.LATTICE_NATS_SERVER)} is not an executable file.\n${NATS_SERVER_INSTALL_HINT}`);
}

let missing = TOOLS.filter((t) => !t.find());
if (missing.length > 0) {
  const aptGet = findExecutable("apt-get");
  const isRoot = process.getuid?.() === 0;
  if (isRoot && aptGet) {
    // Root on Debian/Ubuntu (containers, CI): install the distro packages.
    console.log(`${missing.map((t) => t.name).join(", ")} not found; installing with apt-get...`);
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    for (const args of [["update"], ["install", "-y", ...missing.map((t) => t.name)]]) {
      const r = spawnSync(aptGet, args, { stdio: "inherit", env });
      if (r.status !== 0) fail(`\`apt-get ${args.join(" ")}\` failed (${r.error?.message ?? `exit code ${r.status}`}).`);
    }
    missing = TOOLS.filter((t) => !t.find());
  }
}
if (missing.length > 0) {
  fail(missing.map((t) => `${t.name} was not found on PATH; lattice needs it for ${t.forWhat}.\n${t.hint}`).join("\n"));
}
if (!soft) {
  for (const t of TOOLS) {
    const path = t.find();
    const version = t.name === "nats-server" ? ` (${await natsServerVersion(path).catch(() => "version unknown")})` : "";
    console.log(`${t.name}: ${path}${version}`);
  }
}
