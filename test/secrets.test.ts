/**
 * Secrets never leak: host seeds, NATS passwords, tokens, credentials files (JWT and seed), the
 * signing seed a provider gets, and mistyped ones, appear in no log line (at debug), no CLI
 * output, no event, no ping or inventory reply, no state or app KV entry, and in no provider's
 * process arguments.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NatsConnection } from "@nats-io/nats-core";
import { Kvm } from "@nats-io/kv";
import { createServer, createUser } from "@nats-io/nkeys";
import { connectNode, connectionAuth, type NatsServer } from "../src/nats/node/index.js";
import type { HostInfo, HostInventory } from "../src/protocol/index.js";
import { CliProcess, runCli, type CliResult } from "./kit/cli.js";
import { watEcho } from "./kit/fixtures.js";
import { Cleanup, natsServer } from "./kit/lattice.js";
import { until } from "./kit/poll.js";

const text = (b: Uint8Array): string => new TextDecoder().decode(b);
const hex = (): string => randomBytes(12).toString("hex");

describe("secrets never leak", () => {
  const cleanup = new Cleanup();
  const dir = mkdtempSync(join(tmpdir(), "lattice-secrets-"));
  const hostSeed = text(createServer().getSeed());
  const envSeed = text(createServer().getSeed());
  const password = `pw-${hex()}`;
  const token = `tok-${hex()}`;
  const wrongPassword = `wrongpw-${hex()}`;
  const user = createUser();
  const userSeed = text(user.getSeed());
  // A non-operator server ignores the JWT and checks the seed against the nkey user; the JWT
  // is still a secret of the file.
  const credsJwt = `eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.${Buffer.from(`{"jti":"${hex()}"}`).toString("base64url")}.${hex()}`;
  // A server seed with one character changed: a typo that must not be echoed back.
  const badSeed = `${hostSeed.slice(0, 20)}${hostSeed[20] === "A" ? "B" : "A"}${hostSeed.slice(21)}`;
  const badSigningSeed = `${userSeed.slice(0, 30)}${userSeed[30] === "A" ? "B" : "A"}${userSeed.slice(31)}`;
  const secrets: Record<string, string> = { hostSeed, envSeed, password, token, wrongPassword, userSeed, credsJwt, badSeed, badSigningSeed };

  let a: NatsServer;
  let b: NatsServer;
  let urlWithPassword: string;
  const alice = () => ["--nats-url", a.clientUrl, "--user", "alice", "--password", password];
  /** Everything anyone could read: CLI output, logs, events, replies, KV entries, process arguments. */
  const seen: Array<{ where: string; text: string }> = [];
  const processes: CliProcess[] = [];

  function cli(args: string[], env: NodeJS.ProcessEnv = {}): CliProcess {
    const p = new CliProcess(args, env);
    processes.push(p);
    cleanup.add(() => p.stop("SIGKILL"));
    return p;
  }

  async function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
    const r = await runCli(args, env);
    seen.push({ where: `lattice ${args[0]} ${args[1] ?? ""} (exit ${r.code})`, text: r.stdout + r.stderr });
    return r;
  }

  async function ok(args: string[]): Promise<string> {
    const r = await run(args);
    assert.equal(r.code, 0, `lattice ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  }

  async function watchEvents(nc: NatsConnection, where: string): Promise<void> {
    nc.subscribe("lattice.*.evt.>", {
      callback: (_e, m) => {
        seen.push({ where: `${where} event ${m.subject}`, text: text(m.data) });
      },
    });
    await nc.flush();
  }

  async function open(servers: string, auth: Parameters<typeof connectionAuth>[0]): Promise<NatsConnection> {
    const nc = await connectNode({ servers, ...connectionAuth(auth) });
    cleanup.add(() => nc.close());
    return nc;
  }

  before(async () => {
    cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
    const creds = join(dir, "user.creds");
    writeFileSync(creds, `-----BEGIN NATS USER JWT-----\n${credsJwt}\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n${userSeed}\n------END USER NKEY SEED------\n`);
    a = await natsServer(cleanup, {
      jetstream: {},
      accounts: { A: { users: [{ user: "alice", password }, { nkey: user.getPublicKey() }], jetstream: true } },
    });
    b = await natsServer(cleanup, { authorization: { token } });
    urlWithPassword = a.clientUrl.replace("nats://", `nats://alice:${password}@`);
    await watchEvents(await open(a.clientUrl, { user: "alice", password }), "A");
    await watchEvents(await open(b.clientUrl, { token }), "B");

    const debug = ["--log-level", "debug", "-o", "json"];
    const hosts = [
      cli(["host", ...alice(), "--seed", hostSeed, "--name", "by-flags", ...debug]),
      cli(["host", "--nats-url", a.clientUrl, "--creds", creds, "--name", "by-creds", ...debug], { LATTICE_HOST_SEED: envSeed }),
      cli(["host", "--nats-url", urlWithPassword, "--name", "by-url", ...debug]),
      cli(["host", "--nats-url", b.clientUrl, "--name", "by-token", ...debug], { LATTICE_NATS_TOKEN: token }),
    ];
    for (const h of hosts) await h.jsonLines(1);
    cli(["events", ...alice(), "-o", "json"]);
  });
  after(cleanup.run);

  it("start, scale, calls, errors and bad credentials leave no secret anywhere", async () => {
    const hosts = JSON.parse(await ok(["get", "hosts", ...alice(), "-o", "json"])) as HostInfo[];
    const byFlags = hosts.find((h) => h.name === "by-flags");
    const byUrl = hosts.find((h) => h.name === "by-url");
    assert.ok(byFlags && byUrl, JSON.stringify(hosts));

    // Providers: each gets its host's signing seed and NATS credentials.
    await ok(["start", "provider", "keyvalue", "--id", "kv", "--host", byFlags.id, ...alice()]);
    await ok(["start", "provider", "keyvalue", "--id", "kv-url", "--host", byUrl.id, ...alice()]);
    const wasm = join(dir, "echo.wasm");
    writeFileSync(wasm, await watEcho());
    await ok(["start", "actor", wasm, "--id", "echo", "--scale", "3", ...alice()]);
    await ok(["scale", "actor", "echo", "2", ...alice()]);
    assert.equal(JSON.parse(await ok(["call", "echo", "acme:demo/echo.echo", '["hi"]', ...alice()])), "hi");
    await run(["call", "echo", "acme:demo/echo.trap", "[]", ...alice()]);
    await run(["call", "echo", "acme:demo/echo.nope", "[]", ...alice()]);
    await run(["call", "kv", "wasi:keyvalue/store.open", '["b"]', ...alice()]);

    // Mistakes: a wrong password (flag and URL), a wrong token, a corrupted host seed, a user seed
    // as host seed, a corrupted signing seed.
    const wrong = await run(["get", "hosts", "--nats-url", a.clientUrl, "--user", "alice", "--password", wrongPassword]);
    assert.equal(wrong.code, 1);
    const wrongUrl = await run(["get", "hosts", "--nats-url", a.clientUrl.replace("nats://", `nats://alice:${wrongPassword}@`)]);
    assert.equal(wrongUrl.code, 1);
    assert.match(wrongUrl.stderr, /Authorization Violation/i);
    assert.equal((await run(["get", "hosts", "--nats-url", b.clientUrl, "--token", wrongPassword])).code, 1);
    assert.equal((await run(["host", ...alice(), "--seed", badSeed])).code, 1);
    assert.equal((await run(["host", ...alice(), "--seed", userSeed])).code, 1);
    assert.equal((await run(["call", "echo", "acme:demo/echo.echo", '["x"]', ...alice(), "--signing-seed", badSigningSeed])).code, 1);

    // What the lattice says about itself.
    await ok(["get", "hosts", ...alice(), "-o", "json"]);
    const inventories = JSON.parse(await ok(["get", "inventory", ...alice(), "-o", "json"])) as HostInventory[];
    await ok(["get", "inventory", "--nats-url", b.clientUrl, "--token", token, "-o", "json"]);
    await ok(["get", "links", ...alice(), "-o", "json"]);
    const nc = await open(a.clientUrl, { user: "alice", password });
    const kvm = new Kvm(nc);
    for (const bucket of ["lattice_default_state", "lattice_default_apps"]) {
      const kv = await kvm.open(bucket).catch(() => undefined);
      if (!kv) continue;
      for await (const k of await kv.keys()) {
        const e = await kv.get(k);
        if (e) seen.push({ where: `${bucket} ${k}`, text: `${k} ${text(e.value)}` });
      }
    }

    // Providers' process arguments (what `ps` shows to every user of the machine).
    const pids = inventories.flatMap((i) => i.providers.map((p) => p.pid)).filter((p): p is number => p !== undefined);
    assert.equal(pids.length, 2, JSON.stringify(inventories.map((i) => i.providers)));
    for (const pid of pids) seen.push({ where: `argv of provider pid ${pid}`, text: readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ") });

    // Let the last events and log lines arrive, then stop the hosts so their goodbyes are logged too.
    await until(() => seen.some((s) => s.where.includes("evt.v1.actor_scaled")) || undefined, 5_000, "events");
    for (const p of processes) await p.stop("SIGTERM");
    for (const p of processes) seen.push({ where: `lattice ${p.child.spawnargs.slice(2, 4).join(" ")} output`, text: p.stdout + p.stderr });

    // The test saw the things it looks in: debug logs, provider output, events of every kind.
    const all = seen.map((s) => s.text).join("\n");
    for (const expected of ["DEBUG", "provider ready", "host_started", "provider_started", "actor_scaled", "Authorization Violation", "trap"]) {
      assert.ok(all.includes(expected), `nothing collected mentions ${expected}`);
    }
    const leaks = seen.flatMap((s) => Object.entries(secrets).filter(([, v]) => s.text.includes(v)).map(([name]) => `${name} in ${s.where}: ${s.text.slice(0, 300)}`));
    assert.deepEqual(leaks, []);
  });
});
