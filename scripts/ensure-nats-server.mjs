// Makes sure a nats-server binary is available: `npm run setup`, and (with --soft) npm's `prepare`,
// which runs it right after the TypeScript build. Uses the compiled search of src/nats.
//
//   node scripts/ensure-nats-server.mjs          print where it is; install it or fail (exit 1)
//   node scripts/ensure-nats-server.mjs --soft   quiet when found; warn (exit 0) when it cannot be had
import { spawnSync } from "node:child_process";
import { findExecutable, findNatsServer, natsServerVersion, NATS_SERVER_INSTALL_HINT } from "../dist/src/nats/server-binary.js";

const soft = process.argv.includes("--soft");

function fail(message) {
  const text = `${message}\n${NATS_SERVER_INSTALL_HINT}`;
  if (soft) {
    console.warn(`warning: ${text}\n(lattice needs nats-server for \`lattice up\` and the tests.)`);
    process.exit(0);
  }
  console.error(text);
  process.exit(1);
}

async function report(path) {
  if (!soft) console.log(`nats-server: ${path} (${await natsServerVersion(path).catch(() => "version unknown")})`);
  process.exit(0);
}

const found = findNatsServer();
if (found) await report(found);
if (process.env.LATTICE_NATS_SERVER) fail(`LATTICE_NATS_SERVER=${JSON.stringify(process.env.LATTICE_NATS_SERVER)} is not an executable file.`);

const aptGet = findExecutable("apt-get");
const isRoot = process.getuid?.() === 0;
if (!isRoot || !aptGet) fail("nats-server was not found on PATH.");

// Root on Debian/Ubuntu (containers, CI): install the distro package.
console.log("nats-server not found; installing it with apt-get...");
const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
for (const args of [["update"], ["install", "-y", "nats-server"]]) {
  const r = spawnSync(aptGet, args, { stdio: "inherit", env });
  if (r.status !== 0) fail(`\`apt-get ${args.join(" ")}\` failed (${r.error?.message ?? `exit code ${r.status}`}).`);
}
const installed = findNatsServer();
if (!installed) fail("apt-get install finished but nats-server is still not found.");
await report(installed);
