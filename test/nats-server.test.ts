// The managed nats-server layer against real nats-server processes. Talks raw NATS protocol over
// TCP (no client library) so it tests only the launcher and the rendered configs.
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test, type TestContext } from "node:test";
import * as assert from "node:assert/strict";
import { freePort } from "../src/nats/node/free-port.js";
import { findNatsServer, natsServerVersion, requireNatsServer } from "../src/nats/node/server-binary.js";
import { quoteConf, renderNatsConfig, type NatsServerOptions } from "../src/nats/server-config.js";
import { startNatsServer, stopPid, type LaunchOptions, type NatsServer } from "../src/nats/node/server-launcher.js";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Starts a server that is stopped when the test ends, whatever its outcome. */
async function launch(t: TestContext, opts: LaunchOptions = {}): Promise<NatsServer> {
  const server = await startNatsServer(opts);
  t.after(() => server.stop());
  return server;
}

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "lattice-nats-test-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 8_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
}

/** Exit code and output of `nats-server -t -c FILE` (test the config and exit). */
function testConfig(path: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(requireNatsServer(), ["-t", "-c", path], (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({ code, output: stdout + stderr });
    });
  });
}

/** A minimal raw-protocol NATS client: enough to prove who is listening and route messages. */
class RawNats {
  private data = "";
  private cursor = 0;
  private constructor(private readonly sock: Socket) {
    sock.setEncoding("utf8");
    sock.on("data", (chunk: string) => (this.data += chunk));
    sock.on("error", () => undefined);
  }

  static open(port: number): Promise<RawNats> {
    return new Promise((resolve, reject) => {
      const sock = connect({ host: "127.0.0.1", port });
      sock.once("connect", () => resolve(new RawNats(sock)));
      sock.once("error", reject);
    });
  }

  /** Connects, returns the server's INFO, sends CONNECT + PING and returns the answer line. */
  static async login(port: number, auth: Record<string, string> = {}): Promise<{ client: RawNats; info: Record<string, unknown>; answer: string }> {
    const client = await RawNats.open(port);
    const info = JSON.parse((await client.waitFor(/^INFO (\{.*\}) ?\r\n/m))[1] ?? "{}") as Record<string, unknown>;
    client.send(`CONNECT ${JSON.stringify({ verbose: false, pedantic: false, protocol: 1, ...auth })}\r\nPING\r\n`);
    const answer = (await client.waitFor(/^(PONG|-ERR .*)\r\n/m))[1] ?? "";
    return { client, info, answer };
  }

  send(text: string): void {
    this.sock.write(text);
  }

  pub(subject: string, payload: string, reply = ""): void {
    this.send(`PUB ${subject}${reply ? ` ${reply}` : ""} ${Buffer.byteLength(payload)}\r\n${payload}\r\n`);
  }

  /** Round trip: the server has processed everything sent before. */
  async flush(): Promise<void> {
    this.send("PING\r\n");
    await this.waitFor(/^PONG\r\n/m);
  }

  received(text: string): boolean {
    return this.data.includes(text);
  }

  /** Waits for `re` in data received after the previous match. */
  async waitFor(re: RegExp, timeoutMs = 5_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.data.slice(this.cursor));
      if (m) {
        this.cursor += m.index + m[0].length;
        return m;
      }
      if (Date.now() > deadline) throw new Error(`no ${String(re)} in ${JSON.stringify(this.data.slice(-500))}`);
      await sleep(10);
    }
  }

  close(): void {
    this.sock.destroy();
  }
}

/** Subscribes on `sub`, publishes on `pub` until the message arrives (interest spreads async). */
async function provesRouting(subPort: number, pubPort: number, subject: string): Promise<void> {
  const a = (await RawNats.login(subPort)).client;
  const b = (await RawNats.login(pubPort)).client;
  try {
    a.send(`SUB ${subject} 1\r\n`);
    await a.flush();
    const payload = `hello-${subject}`;
    await until(`${subject} to cross servers`, async () => {
      b.pub(subject, payload);
      await b.flush();
      await sleep(50);
      return a.received(`MSG ${subject} 1 ${payload.length}\r\n${payload}\r\n`);
    });
  } finally {
    a.close();
    b.close();
  }
}

void describe("renderNatsConfig", () => {
  void test("minimal config has host and port only", () => {
    const text = renderNatsConfig({ port: 14999 });
    assert.match(text, /^host: "127\.0\.0\.1"$/m);
    assert.match(text, /^port: 14999$/m);
    for (const block of ["websocket", "cluster", "leafnodes", "jetstream", "accounts", "authorization"]) {
      assert.doesNotMatch(text, new RegExp(`^${block} \\{`, "m"));
    }
  });

  void test("renders every block", () => {
    const text = renderNatsConfig(fullOptions("/tmp/store"));
    assert.match(text, /^server_name: "hub-1"$/m);
    assert.match(text, /^max_payload: 2MB$/m);
    assert.match(text, /^debug: true$/m);
    assert.match(text, /websocket \{\n {2}host: "127\.0\.0\.1"\n {2}port: 15001\n {2}no_tls: true\n\}/);
    assert.match(text, /cluster \{\n {2}name: "c1"\n {2}host: "127\.0\.0\.1"\n {2}port: 15002\n {2}routes: \["nats-route:\/\/127\.0\.0\.1:15003"\]\n\}/);
    assert.match(text, /leafnodes \{\n {2}host: "127\.0\.0\.1"\n {2}port: 15004\n {2}remotes: \[\n {4}\{ urls: \["nats-leaf:\/\/127\.0\.0\.1:15005"\], account: "APP" \}\n {2}\]\n\}/);
    assert.match(text, /jetstream \{\n {2}store_dir: "\/tmp\/store"\n {2}domain: "hub"\n {2}max_memory_store: 64MB\n {2}max_file_store: 1073741824\n\}/);
    assert.match(text, /"APP": \{ users: \[\{ user: "app", password: "pw" \}\], jetstream: enabled \}/);
    assert.match(text, /"EMPTY": \{\}/);
    assert.match(text, /^system_account: "SYS"$/m);
  });

  void test("authorization block", () => {
    const text = renderNatsConfig({ port: 1, authorization: { token: "t0k" } });
    assert.match(text, /authorization \{\n {2}token: "t0k"\n\}/);
    assert.doesNotMatch(renderNatsConfig({ port: 1, authorization: {} }), /authorization/);
  });

  void test("quotes strings with only the escapes nats conf understands", () => {
    assert.equal(quoteConf('a"b\\c'), '"a\\"b\\\\c"');
    assert.equal(quoteConf("l1\nl2\tx\r"), '"l1\\nl2\\tx\\r"');
    assert.equal(quoteConf("\u0001\u007f"), '"\\x01\\x7f"');
    assert.equal(quoteConf("$HOME é"), '"$HOME é"');
  });

  void test("rejects bad ports and sizes, requires a port", () => {
    assert.throws(() => renderNatsConfig({}), /port is required/);
    assert.throws(() => renderNatsConfig({ port: 70000 }), /port must be/);
    assert.throws(() => renderNatsConfig({ port: -2 }), /port must be/);
    assert.throws(() => renderNatsConfig({ port: 1, websocket: { port: 1.5 } }), /websocket\.port/);
    assert.throws(() => renderNatsConfig({ port: 1, maxPayload: "2 megs" }), /maxPayload/);
    assert.throws(() => renderNatsConfig({ port: 1, jetstream: { storeDir: "/x", maxFile: -1 } }), /maxFile/);
  });

  void test("-1 ports and the ports file dir", () => {
    const text = renderNatsConfig({ port: -1, portsFileDir: "/tmp/x", websocket: { port: -1 }, cluster: { name: "c", port: -1 }, leafnodes: { port: -1 } });
    assert.match(text, /^port: -1\nports_file_dir: "\/tmp\/x"$/m);
    assert.equal(text.match(/^ {2}port: -1$/gm)?.length, 3);
  });

  void test("nats-server -t accepts the rendered configs", async (t) => {
    const dir = await tempDir(t);
    const configs: Record<string, NatsServerOptions> = {
      minimal: { port: 15000 },
      auto: { port: -1, portsFileDir: dir, websocket: { port: -1 }, cluster: { name: "c", port: -1 }, leafnodes: { port: -1 } },
      full: fullOptions(join(dir, "store")),
      tricky: { port: 15000, authorization: { user: 'u$HOME"\\', password: "p\u0001\n\t'#;//é" } },
    };
    for (const [name, opts] of Object.entries(configs)) {
      const path = join(dir, `${name}.conf`);
      await writeFile(path, renderNatsConfig(opts));
      const r = await testConfig(path);
      assert.equal(r.code, 0, `${name}: ${r.output}`);
      assert.match(r.output, /is valid/);
    }
    // And the check does reject what 2.9 can't parse (a quoted size), so the test above means something.
    const bad = join(dir, "bad.conf");
    await writeFile(bad, `port: 15000\njetstream { store_dir: "${dir}", max_memory_store: "64MB" }\n`);
    assert.notEqual((await testConfig(bad)).code, 0);
  });
});

function fullOptions(storeDir: string): NatsServerOptions {
  return {
    port: 15000,
    serverName: "hub-1",
    maxPayload: "2MB",
    debug: true,
    websocket: { port: 15001 },
    cluster: { name: "c1", port: 15002, routes: ["nats-route://127.0.0.1:15003"] },
    leafnodes: { port: 15004, remotes: [{ urls: ["nats-leaf://127.0.0.1:15005"], account: "APP" }] },
    jetstream: { storeDir, domain: "hub", maxMemory: "64MB", maxFile: 1024 * 1024 * 1024 },
    accounts: {
      SYS: { users: [{ user: "sys", password: "sys" }] },
      APP: { users: [{ user: "app", password: "pw" }], jetstream: true },
      EMPTY: {},
    },
    systemAccount: "SYS",
  };
}

function findNatsServerWithout(envKey: string): string {
  const saved = process.env[envKey];
  delete process.env[envKey];
  try {
    return requireNatsServer();
  } finally {
    if (saved !== undefined) process.env[envKey] = saved;
  }
}

void describe("binary and ports", () => {
  void test("finds nats-server and reads its version", async () => {
    const path = findNatsServer();
    assert.ok(path, "nats-server should be installed for these tests");
    assert.equal(requireNatsServer(), path);
    assert.match(await natsServerVersion(path), /^\d+\.\d+\.\d+/);
  });

  void test("LATTICE_NATS_SERVER overrides the search and is reported when wrong", (t) => {
    const saved = { override: process.env["LATTICE_NATS_SERVER"], path: process.env["PATH"] };
    t.after(() => {
      for (const [key, value] of [["LATTICE_NATS_SERVER", saved.override], ["PATH", saved.path]] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    });
    process.env["LATTICE_NATS_SERVER"] = "/nonexistent/nats-server";
    assert.equal(findNatsServer(), undefined);
    assert.throws(() => requireNatsServer(), /LATTICE_NATS_SERVER .*\/nonexistent\/nats-server/);
    const real = findNatsServerWithout("LATTICE_NATS_SERVER");
    process.env["LATTICE_NATS_SERVER"] = real;
    assert.equal(findNatsServer(), real);
    // Without the override and with an empty PATH the system directories are still searched.
    delete process.env["LATTICE_NATS_SERVER"];
    process.env["PATH"] = "";
    assert.match(findNatsServer() ?? "", /\/nats-server$/);
  });

  void test("freePort gives distinct bindable ports, never 4222", async () => {
    const ports = new Set<number>();
    for (let i = 0; i < 20; i++) ports.add(await freePort());
    assert.equal(ports.size, 20);
    assert.ok(!ports.has(4222));
    const port = [...ports][0] ?? 0;
    const srv = createServer();
    await new Promise<void>((resolve, reject) => {
      srv.once("error", reject);
      srv.listen(port, "127.0.0.1", resolve);
    });
    await new Promise<void>((resolve) => srv.close(() => resolve()));
  });
});

void describe("startNatsServer", () => {
  void test("a plain server speaks NATS on the announced port", async (t) => {
    const server = await launch(t, { serverName: "plain" });
    assert.notEqual(server.port, 4222);
    assert.equal(server.clientUrl, `nats://127.0.0.1:${server.port}`);
    assert.equal(server.websocketUrl, undefined);
    assert.equal(server.leafUrl, undefined);
    assert.equal(server.clusterUrl, undefined);
    assert.ok(server.pid > 0 && !isGone(server.pid));
    assert.equal(server.exited, false);
    const { client, info, answer } = await RawNats.login(server.port);
    client.close();
    assert.equal(answer, "PONG");
    assert.equal(info["port"], server.port);
    assert.equal(info["server_name"], "plain");
    assert.match(String(info["version"]), /^2\./);
    assert.ok(server.logs().some((l) => l.includes("Server is ready")));
    // nats-server picked the port and wrote it to its ports file.
    assert.match(readFileSync(server.configPath, "utf8"), /^port: -1$/m);
    assert.match(readFileSync(server.configPath, "utf8"), new RegExp(`^ports_file_dir: "${server.dir}"$`, "m"));
    assert.match(readFileSync(server.logPath, "utf8"), /Server is ready/);
    assert.ok(server.dir.startsWith(join(tmpdir(), "lattice-nats-")));
  });

  void test("JetStream, websocket and a leafnode listener", async (t) => {
    const server = await launch(t, {
      jetstream: { domain: "d1", maxMemory: "32MB", maxFile: "256MB" },
      websocket: { port: 0 },
      leafnodes: { port: 0 },
    });
    const ws = server.options.websocket?.port ?? 0;
    const leaf = server.options.leafnodes?.port ?? 0;
    assert.ok(ws > 0 && leaf > 0 && new Set([ws, leaf, server.port]).size === 3);
    assert.equal(server.websocketUrl, `ws://127.0.0.1:${ws}`);
    assert.equal(server.leafUrl, `nats-leaf://127.0.0.1:${leaf}`);
    assert.equal(server.options.jetstream?.storeDir, server.dir);

    // JetStream answers its API, with our domain.
    const { client } = await RawNats.login(server.port);
    t.after(() => client.close());
    client.send("SUB _INBOX.js 1\r\n");
    client.pub("$JS.API.INFO", "", "_INBOX.js");
    const info = await client.waitFor(/^MSG _INBOX\.js 1 \d+\r\n(.*)\r\n/m);
    assert.match(info[1] ?? "", /"type":"io\.nats\.jetstream\.api\.v1\.account_info_response"/);
    assert.match(info[1] ?? "", /"domain":"d1"/);
    assert.ok(existsSync(join(server.dir, "jetstream")));

    // The websocket port upgrades an HTTP request.
    const sock = await RawNats.open(ws);
    t.after(() => sock.close());
    sock.send(
      "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    await sock.waitFor(/^HTTP\/1\.1 101 Switching Protocols\r\n/);

    // The leaf port speaks the NATS leafnode protocol.
    const leafSock = await RawNats.open(leaf);
    t.after(() => leafSock.close());
    const leafInfo = await leafSock.waitFor(/^INFO (\{.*\}) ?\r\n/m);
    assert.equal((JSON.parse(leafInfo[1] ?? "{}") as { port?: number }).port, leaf);
  });

  void test("a leaf node connects to its hub and messages flow", async (t) => {
    const hub = await launch(t, { serverName: "hub", leafnodes: { port: 0 } });
    const leaf = await launch(t, { serverName: "leaf", leafnodes: { remotes: [{ urls: [hub.leafUrl ?? ""] }] } });
    assert.equal(leaf.leafUrl, undefined, "a leaf that only solicits has no leaf listener");
    await until("the leaf connection", () => leaf.logs().some((l) => l.includes("Leafnode connection created")));
    assert.ok(hub.logs().some((l) => l.includes("Leafnode connection created")));
    await provesRouting(hub.port, leaf.port, "leaf.to.hub");
    await provesRouting(leaf.port, hub.port, "hub.to.leaf");
  });

  void test("a cluster of three routes messages", async (t) => {
    const clusterPorts = [await freePort(), await freePort(), await freePort()];
    const servers = await Promise.all(
      clusterPorts.map((port, i) =>
        launch(t, {
          serverName: `n${i}`,
          cluster: {
            name: "c3",
            port,
            routes: clusterPorts.filter((p) => p !== port).map((p) => `nats-route://127.0.0.1:${p}`),
          },
        }),
      ),
    );
    const [s0, s1, s2] = servers;
    assert.ok(s0 && s1 && s2);
    assert.equal(s0.clusterUrl, `nats-route://127.0.0.1:${clusterPorts[0]}`);
    for (const s of servers) {
      await until(`${s.options.serverName} routes`, () => s.logs().some((l) => l.includes("Route connection created")));
    }
    await provesRouting(s0.port, s2.port, "c.two.to.zero");
    await provesRouting(s2.port, s1.port, "c.one.to.two");
  });

  void test("accounts and users authenticate and isolate", async (t) => {
    const tricky = 'p$HOME"\\\'#x';
    const server = await launch(t, {
      accounts: {
        SYS: { users: [{ user: "sys", password: "sys" }] },
        A: { users: [{ user: "alice", password: tricky }] },
        B: { users: [{ user: "bob", password: "bob" }] },
      },
      systemAccount: "SYS",
    });
    const bad = await RawNats.login(server.port, { user: "alice", pass: "wrong" });
    bad.client.close();
    assert.match(bad.answer, /^-ERR 'Authorization Violation'/);
    const alice = await RawNats.login(server.port, { user: "alice", pass: tricky });
    const bob = await RawNats.login(server.port, { user: "bob", pass: "bob" });
    t.after(() => {
      alice.client.close();
      bob.client.close();
    });
    assert.equal(alice.answer, "PONG");
    assert.equal(bob.answer, "PONG");
    alice.client.send("SUB iso 1\r\n");
    await alice.client.flush();
    bob.client.pub("iso", "from-bob");
    await bob.client.flush();
    alice.client.pub("iso", "from-alice");
    await alice.client.waitFor(/from-alice/);
    assert.equal(alice.client.received("from-bob"), false);
  });

  void test("token authorization", async (t) => {
    const server = await launch(t, { authorization: { token: 's3"cr\\et' } });
    assert.match((await RawNats.login(server.port)).answer, /Authorization Violation/);
    const ok = await RawNats.login(server.port, { auth_token: 's3"cr\\et' });
    ok.client.close();
    assert.equal(ok.answer, "PONG");
  });

  void test("restart keeps ports and the JetStream store, with a new pid", async (t) => {
    const server = await launch(t, { jetstream: {}, websocket: { port: 0 } });
    const { port, dir } = server;
    const wsUrl = server.websocketUrl;
    const firstPid = server.pid;
    const c1 = (await RawNats.login(port)).client;
    c1.send("SUB _INBOX.r 1\r\n");
    c1.pub("$JS.API.STREAM.CREATE.KEEP", JSON.stringify({ name: "KEEP", subjects: ["keep.>"], storage: "file" }), "_INBOX.r");
    assert.match((await c1.waitFor(/^MSG _INBOX\.r 1 \d+\r\n(.*)\r\n/m))[1] ?? "", /stream_create_response/);
    c1.close();

    await server.restart();
    assert.equal(server.port, port);
    assert.equal(server.websocketUrl, wsUrl);
    assert.equal(server.dir, dir);
    assert.notEqual(server.pid, firstPid);
    assert.ok(isGone(firstPid));
    assert.equal(server.exited, false);

    const c2 = (await RawNats.login(port)).client;
    t.after(() => c2.close());
    c2.send("SUB _INBOX.r 1\r\n");
    c2.pub("$JS.API.STREAM.INFO.KEEP", "", "_INBOX.r");
    const info = (await c2.waitFor(/^MSG _INBOX\.r 1 \d+\r\n(.*)\r\n/m))[1] ?? "";
    assert.match(info, /"name":"KEEP"/);
    assert.doesNotMatch(info, /"error"/);
  });

  void test("websocket, leafnode and cluster on ports the server picks, kept by restart", async (t) => {
    const server = await launch(t, { websocket: { port: 0 }, leafnodes: { port: 0 }, cluster: { name: "auto", port: 0 } });
    const urls = () => [server.clientUrl, server.websocketUrl ?? "", server.leafUrl ?? "", server.clusterUrl ?? ""];
    const first = urls();
    const ports = first.map((u) => Number(new URL(u).port));
    assert.ok(ports.every((p) => p > 0), first.join(" "));
    assert.equal(new Set(ports).size, 4, first.join(" "));
    const o = server.options;
    assert.deepEqual([o.port, o.websocket?.port, o.leafnodes?.port, o.cluster?.port], ports);
    const acceptsAll = async () => {
      for (const port of ports) (await RawNats.open(port)).close();
    };
    await acceptsAll();
    const pid = server.pid;
    assert.equal(existsSync(join(server.dir, `nats-server_${pid}.ports`)), true);

    await server.restart();
    assert.notEqual(server.pid, pid);
    assert.deepEqual(urls(), first);
    await acceptsAll();
    // The restart rendered the ports the first process had picked.
    const config = readFileSync(server.configPath, "utf8");
    assert.match(config, new RegExp(`^port: ${ports[0]}$`, "m"));
    for (const p of ports.slice(1)) assert.match(config, new RegExp(`^ {2}port: ${p}$`, "m"));
  });

  void test("kill(SIGKILL) then restart", async (t) => {
    const server = await launch(t);
    const pid = server.pid;
    await server.kill();
    assert.equal(server.exited, true);
    assert.ok(isGone(pid));
    await assert.rejects(RawNats.open(server.port));
    await server.restart();
    assert.equal((await RawNats.login(server.port).then((r) => (r.client.close(), r.answer))), "PONG");
  });

  void test("stop() ends the process, removes its temp dir, and is idempotent", async () => {
    const server = await startNatsServer();
    const pid = server.pid;
    await Promise.all([server.stop(), server.stop()]);
    assert.ok(isGone(pid));
    assert.equal(server.exited, true);
    assert.equal(existsSync(server.dir), false);
    await server.stop();
  });

  void test("stop() keeps a caller's dir", async (t) => {
    const dir = await tempDir(t);
    const server = await startNatsServer({ dir });
    await server.stop();
    assert.ok(existsSync(join(dir, "nats-server.conf")));
    assert.match(readFileSync(join(dir, "nats-server.log"), "utf8"), /Server Exiting/);
  });

  void test("logs() keeps only the last 200 lines; the log file keeps everything", async (t) => {
    const server = await launch(t, { debug: true });
    for (let i = 0; i < 120; i++) {
      const { client } = await RawNats.login(server.port);
      client.close();
    }
    await until("debug lines", () => readFileSync(server.logPath, "utf8").split("\n").length > 230);
    const logs = server.logs();
    assert.equal(logs.length, 200);
    assert.match(logs.at(-1) ?? "", /\[DBG\]/);
    assert.ok(!logs.some((l) => l.includes("Starting nats-server")), "the oldest lines were dropped");
  });

  void test("a port in use rejects with the server's log", async (t) => {
    const port = await freePort();
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(port, "127.0.0.1", resolve));
    t.after(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    await assert.rejects(startNatsServer({ port }), (err: Error) => {
      assert.match(err.message, /nats-server exited with code 1/);
      assert.match(err.message, /last log lines:/);
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}.*address already in use`));
      return true;
    });
  });

  void test("a missing binary and a ready timeout reject", async () => {
    await assert.rejects(startNatsServer({ binary: "/nonexistent/nats-server" }), /could not be spawned/);
    await assert.rejects(startNatsServer({ readyTimeoutMs: 1 }), /was not ready within 1 ms/);
  });

  void test("a detached server outlives its handle and stopPid stops it", async (t) => {
    const server = await launch(t, { detached: true, leafnodes: { port: 0 } });
    const pid = server.pid;
    assert.equal((await RawNats.login(server.port).then((r) => (r.client.close(), r.answer))), "PONG");
    // The leaf port nats-server picked, read from the log file.
    (await RawNats.open(Number(new URL(server.leafUrl ?? "").port))).close();
    assert.ok(server.logs().some((l) => l.includes("Server is ready")));
    assert.equal(await stopPid(pid, 5_000), true);
    assert.ok(isGone(pid));
    assert.equal(await stopPid(pid, 5_000), false);
  });
});
