/**
 * Which NATS `lattice up` uses: a flag beats the environment, a contradiction is refused, and a
 * taken default port (another lattice's `up`) does not end in a raw port-bind error.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { HostInfo } from "../src/protocol/index.js";
import { freePort } from "../src/nats/node/free-port.js";
import { cliJson, runCli } from "./kit/cli.js";
import { Cleanup, natsServer } from "./kit/lattice.js";

interface UpJson {
  pid: number;
  natsPid?: number;
  natsUrl: string;
  websocketUrl?: string;
  leafUrl?: string;
}

/**
 * Make sure `port` is taken while the test runs: listen on it, or leave it to whoever has it
 * already. Either way it is busy, which is all these tests need, so they hold whatever the state
 * of the machine's well-known ports.
 */
function occupy(cleanup: Cleanup, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const srv: Server = createServer((sock) => sock.destroy());
    srv.once("error", (e: NodeJS.ErrnoException) => (e.code === "EADDRINUSE" ? resolve() : reject(e)));
    srv.listen({ host: "127.0.0.1", port, exclusive: true }, () => {
      cleanup.add(() => new Promise<void>((done) => srv.close(() => done())));
      resolve();
    });
  });
}

function portOf(url: string | undefined): number {
  return Number(/:(\d+)$/.exec(url ?? "")?.[1]);
}

describe("lattice up", () => {
  const cleanup = new Cleanup();
  after(cleanup.run);

  function stateDir(): string {
    const dir = mkdtempSync(join(tmpdir(), "lattice-up-"));
    cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  /** `up --detach` of `lattice`, stopped with `down` at the end of the tests. */
  async function upDetached(lattice: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string; rec?: UpJson }> {
    const r = await runCli(["up", "--detach", "--lattice", lattice, ...args, "-o", "json"], env);
    if (r.code !== 0) return { code: r.code, stderr: r.stderr };
    cleanup.add(() => runCli(["down", "--lattice", lattice], env));
    return { code: r.code, stderr: r.stderr, rec: JSON.parse(r.stdout) as UpJson };
  }

  it("starts its own nats-server on --nats-port even with LATTICE_NATS_URL set, and says it leaves that aside", async () => {
    const elsewhere = await natsServer(cleanup);
    const port = await freePort();
    const env = { LATTICE_STATE_DIR: stateDir(), LATTICE_NATS_URL: elsewhere.clientUrl };
    const up = await upDetached("default", ["--nats-port", String(port), "--ws-port", "0", "--leaf-port", "0", "--name", "own"], env);
    assert.equal(up.code, 0, up.stderr);
    assert.equal(up.rec?.natsUrl, `nats://127.0.0.1:${port}`);
    assert.ok(up.rec?.natsPid, "it started a nats-server");
    assert.match(up.stderr, new RegExp(`^lattice: warning: LATTICE_NATS_URL is set \\(${elsewhere.clientUrl.replace(/[.:/]/g, "\\$&")}\\), but the command line asks for a nats-server of its own \\(--nats-port, --ws-port, --leaf-port\\)`, "m"));
    const hosts = await cliJson<HostInfo[]>(["get", "hosts", "--nats-url", up.rec.natsUrl]);
    assert.deepEqual(hosts.map((h) => h.name), ["own"]);
    assert.deepEqual(await cliJson<HostInfo[]>(["get", "hosts", "--nats-url", elsewhere.clientUrl]), [], "nothing joined the NATS of LATTICE_NATS_URL");
  });

  it("refuses --nats-url with an option of the nats-server it would start, saying why", async () => {
    const elsewhere = await natsServer(cleanup);
    const up = await upDetached("default", ["--nats-url", elsewhere.clientUrl, "--nats-port", String(await freePort())], { LATTICE_STATE_DIR: stateDir() });
    assert.notEqual(up.code, 0);
    assert.equal(up.stderr, "lattice: --nats-url joins a running NATS, but --nats-port is an option of the nats-server `up` starts: give one or the other\n");
  });

  it("a second lattice's up takes free WebSocket and leaf ports when the defaults are taken, and says so", async () => {
    await occupy(cleanup, 4223);
    await occupy(cleanup, 7422);
    const up = await upDetached("second", ["--nats-port", String(await freePort()), "--name", "second"], { LATTICE_STATE_DIR: stateDir() });
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stderr, /^lattice: warning: the default WebSocket port 4223 is taken .*: using a free port instead \(--ws-port chooses one\)$/m);
    assert.match(up.stderr, /^lattice: warning: the default leaf node port 7422 is taken .*: using a free port instead \(--leaf-port chooses one\)$/m);
    assert.ok(portOf(up.rec?.websocketUrl) > 0 && portOf(up.rec?.websocketUrl) !== 4223, up.rec?.websocketUrl);
    assert.ok(portOf(up.rec?.leafUrl) > 0 && portOf(up.rec?.leafUrl) !== 7422, up.rec?.leafUrl);
    const hosts = await cliJson<HostInfo[]>(["get", "hosts", "--lattice", "second", "--nats-url", up.rec!.natsUrl]);
    assert.deepEqual(hosts.map((h) => h.name), ["second"]);
  });

  it("with the default client port taken, says which flag to pass instead of a raw port-bind error", async () => {
    await occupy(cleanup, 4222);
    const up = await upDetached("third", ["--ws-port", "0", "--leaf-port", "0"], { LATTICE_STATE_DIR: stateDir() });
    assert.equal(up.code, 1);
    assert.equal(up.stderr.trim().split("\n").length, 1, up.stderr);
    assert.match(up.stderr, /^lattice: port 4222 \(the default --nats-port\) is taken, .*pass --nats-url nats:\/\/127\.0\.0\.1:4222 .*pass --nats-port 0/);
  });
});
