/**
 * `lattice logs` with real hosts, actors, provider processes and nats-server: an actor's
 * wasi:logging records and a provider's records reach the lattice tagged with their source, host
 * and the trace of the call they were logged in; `--follow` goes on across a host's restart; a
 * flooding actor is rate-limited, its drops counted, and its host goes on serving.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { jetstreamManager } from "@nats-io/jetstream";
import { invoke } from "../src/nats/invocations.js";
import { Subjects } from "../src/protocol/index.js";
import { NodeProviderLauncher } from "../src/provider/node-launcher.js";
import { LogPublisher } from "../src/nats/log-publisher.js";
import { ensureLogStream } from "../src/nats/log-stream.js";
import { MAX_LOG_BATCH_BYTES, MAX_LOG_MESSAGE, type LogBatch, type LogRecord } from "../src/protocol/log-records.js";
import { CliProcess, cliJson, runCli } from "./kit/cli.js";
import { watLogger } from "./kit/fixtures.js";
import { Cleanup, connection, host, natsServer } from "./kit/lattice.js";
import { until } from "./kit/poll.js";

const LOGGER = "acme:demo/logger";
const ECHO = "acme:demo/echo";
const PROVIDER = fileURLToPath(new URL("./fixtures/echo-provider.js", import.meta.url));

function traceparent(): { traceId: string; spanId: string; header: string } {
  const traceId = randomBytes(16).toString("hex");
  const spanId = randomBytes(8).toString("hex");
  return { traceId, spanId, header: `00-${traceId}-${spanId}-01` };
}

function records(stdout: string): LogRecord[] {
  return stdout
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as LogRecord);
}

describe("lattice logs", () => {
  const cleanup = new Cleanup();
  after(cleanup.run);
  const dir = mkdtempSync(join(tmpdir(), "lattice-logs-"));
  cleanup.add(() => rmSync(dir, { recursive: true, force: true }));

  async function loggerWasm(): Promise<string> {
    const wasm = join(dir, "logger.wasm");
    writeFileSync(wasm, await watLogger());
    return wasm;
  }

  function child(args: string[]): CliProcess {
    const p = new CliProcess(args);
    cleanup.add(() => p.stop("SIGKILL"));
    return p;
  }

  it("shows an actor's record with the trace id of the call it was logged in", async () => {
    const nats = await natsServer(cleanup, { jetstream: {} });
    const h = await host(cleanup, nats.clientUrl, { name: "logging-host" });
    const env = { LATTICE_NATS_URL: nats.clientUrl };
    await cliJson(["start", "actor", await loggerWasm(), "--id", "logger", "-o", "json"], env);
    const nc = await connection(cleanup, nats.clientUrl);
    const subjects = new Subjects("default");
    const tp = traceparent();
    await invoke(nc, subjects, { target: "logger", iface: LOGGER, fn: "say", args: ["hello from the actor"], source: "test", deadline: Date.now() + 5_000, traceparent: tp.header });
    await invoke(nc, subjects, { target: "logger", iface: LOGGER, fn: "say", args: ["untraced"], source: "test", deadline: Date.now() + 5_000 });

    const shown = await until(
      async () => {
        const r = await runCli(["logs", "logger", "-o", "json"], env);
        assert.equal(r.code, 0, r.stderr);
        const all = records(r.stdout);
        return all.length >= 2 ? all : undefined;
      },
      10_000,
      "two records of logger in lattice logs",
    );
    const [hello, untraced] = shown;
    assert.equal(hello?.message, "hello from the actor");
    assert.equal(hello?.traceId, tp.traceId);
    assert.equal(hello?.spanId, tp.spanId);
    assert.equal(hello?.source, "logger");
    assert.equal(hello?.kind, "actor");
    assert.equal(hello?.host, h.id);
    assert.equal(hello?.hostName, "logging-host");
    assert.equal(hello?.level, "info");
    assert.equal(hello?.context, "logger");
    assert.ok(!Number.isNaN(Date.parse(hello?.time ?? "")), `a time: ${hello?.time}`);
    assert.equal(untraced?.message, "untraced");
    assert.notEqual(untraced?.traceId, tp.traceId, "a record of a later call is not tagged with an earlier call's trace");

    const stream = await (await jetstreamManager(nc)).streams.info("lattice_default_logs");
    assert.deepEqual(
      { subjects: stream.config.subjects, maxAge: stream.config.max_age, maxBytes: stream.config.max_bytes, discard: stream.config.discard, replicas: stream.config.num_replicas },
      { subjects: ["lattice.default.log.v1.*.*"], maxAge: 3_600_000_000_000, maxBytes: 64 * 1024 * 1024, discard: "old", replicas: 1 },
    );

    const text = await runCli(["logs", "logger", "--host", "logging-host"], env);
    assert.equal(text.code, 0, text.stderr);
    const line = text.stdout.split("\n").find((l) => l.includes("hello from the actor")) ?? "";
    assert.match(line, new RegExp(`^\\S+Z  logging-host  logger  INFO +\\[logger\\] hello from the actor  trace=${tp.traceId.slice(0, 8)}$`));
    assert.equal((await runCli(["logs", "logger", "-n", "1", "-o", "json"], env)).stdout.trim().split("\n").length, 1);
    const warnOnly = await runCli(["logs", "--level", "warn", "-o", "json"], env);
    assert.deepEqual(records(warnOnly.stdout), []);
    const other = await runCli(["logs", "nobody", "-o", "json"], env);
    assert.equal(other.code, 0, other.stderr);
    assert.equal(other.stdout, "");
  });

  it("--follow -o json sees records logged after it started, and goes on when the host is replaced", async () => {
    const nats = await natsServer(cleanup, { jetstream: {} });
    const env = { LATTICE_NATS_URL: nats.clientUrl };
    const wasm = await loggerWasm();
    const nc = await connection(cleanup, nats.clientUrl);
    const subjects = new Subjects("default");

    /** A host process with the logger actor on it. */
    async function hostWithLogger(name: string): Promise<{ proc: CliProcess; id: string }> {
      const proc = child(["host", "--nats-url", nats.clientUrl, "--name", name, "-o", "json"]);
      const [ready] = await proc.jsonLines<{ host: { id: string } }>(1);
      await cliJson(["start", "actor", wasm, "--id", "logger", "--host", name, "-o", "json"], env);
      return { proc, id: ready!.host.id };
    }
    const say = (msg: string, tp: string) => invoke(nc, subjects, { target: "logger", iface: LOGGER, fn: "say", args: [msg], source: "test", deadline: Date.now() + 10_000, traceparent: tp });

    const first = await hostWithLogger("first");
    const follow = child(["logs", "logger", "--follow", "-n", "0", "-o", "json", "--nats-url", nats.clientUrl]);
    await follow.stderrIncludes("following log records of logger");
    const before = traceparent();
    await say("before the restart", before.header);
    const [one] = await follow.jsonLines<LogRecord>(1);
    assert.equal(one?.message, "before the restart");
    assert.equal(one?.traceId, before.traceId);
    assert.equal(one?.host, first.id);

    assert.equal(await first.proc.stop("SIGTERM"), 0);
    const second = await hostWithLogger("second");
    assert.notEqual(second.id, first.id);
    const afterRestart = traceparent();
    await say("after the restart", afterRestart.header);
    const [, two] = await follow.jsonLines<LogRecord>(2);
    assert.equal(two?.message, "after the restart");
    assert.equal(two?.traceId, afterRestart.traceId);
    assert.equal(two?.host, second.id);
    assert.equal(follow.child.exitCode, null, "still following");
  });

  it("--follow goes on after the NATS server restarts, missing nothing the stream kept", async () => {
    const nats = await natsServer(cleanup, { jetstream: {} });
    await host(cleanup, nats.clientUrl, { name: "steady" });
    const env = { LATTICE_NATS_URL: nats.clientUrl };
    await cliJson(["start", "actor", await loggerWasm(), "--id", "logger", "-o", "json"], env);
    const nc = await connection(cleanup, nats.clientUrl);
    const subjects = new Subjects("default");
    const say = (msg: string) => invoke(nc, subjects, { target: "logger", iface: LOGGER, fn: "say", args: [msg], source: "test", deadline: Date.now() + 5_000 });
    const follow = child(["logs", "logger", "--follow", "-o", "json", "--nats-url", nats.clientUrl]);
    await follow.stderrIncludes("following log records of logger");
    await say("before");
    await follow.jsonLines<LogRecord>(1);
    await nats.restart();
    await until(() => say("after").then(() => true, () => false), 20_000, "a call answered after the restart");
    const lines = await follow.jsonLines<LogRecord>(2, 60_000);
    assert.deepEqual(lines.map((r) => r.message), ["before", "after"]);
    await follow.stderrIncludes("reconnected to NATS");
  });

  it("shows a provider's records with its id, its SDK records with the call's trace, its output lines too", async () => {
    const nats = await natsServer(cleanup, { jetstream: {} });
    const h = await host(cleanup, nats.clientUrl, { name: "provider-host", providers: new NodeProviderLauncher({ logLevel: "info" }) });
    const env = { LATTICE_NATS_URL: nats.clientUrl };
    await cliJson(["start", "provider", PROVIDER, "--id", "echo-p", "--host", h.id, "-o", "json"], env);
    const nc = await connection(cleanup, nats.clientUrl);
    const tp = traceparent();
    await invoke(nc, new Subjects("default"), { target: "echo-p", iface: ECHO, fn: "say", args: ["hi there"], source: "test", deadline: Date.now() + 5_000, traceparent: tp.header });
    const [said, printed] = await until(
      async () => {
        const all = records((await runCli(["logs", "echo-p", "-o", "json"], env)).stdout);
        const s = all.find((r) => r.message === "hi there");
        const p = all.find((r) => r.message === "stdout: hi there");
        return s && p ? [s, p] : undefined;
      },
      10_000,
      "the provider's record and output line in lattice logs",
    );
    assert.equal(said.source, "echo-p");
    assert.equal(said.kind, "provider");
    assert.equal(said.host, h.id);
    assert.equal(said.level, "info");
    assert.equal(said.traceId, tp.traceId);
    assert.deepEqual(said.fields, { said: true });
    assert.equal(printed.source, "echo-p");
    assert.deepEqual(printed.fields, { stream: "stdout" });
    // Its own start record ("provider ready") is there too, with the provider's id.
    const ready = records((await runCli(["logs", "echo-p", "-o", "json"], env)).stdout).find((r) => r.message === "provider ready");
    assert.equal(ready?.source, "echo-p");
  });

  it("rate-limits a flooding actor: its drops are counted, its host goes on serving", async () => {
    const nats = await natsServer(cleanup, { jetstream: {} });
    const h = await host(cleanup, nats.clientUrl, { name: "flooded", logRate: { perSecond: 50, burst: 100 } });
    const env = { LATTICE_NATS_URL: nats.clientUrl };
    await cliJson(["start", "actor", await loggerWasm(), "--id", "flooder", "-o", "json"], env);
    const nc = await connection(cleanup, nats.clientUrl);
    const subjects = new Subjects("default");
    const FLOOD = 20_000;
    await invoke(nc, subjects, { target: "flooder", iface: LOGGER, fn: "flood", args: [FLOOD], source: "test", deadline: Date.now() + 30_000 });
    await invoke(nc, subjects, { target: "flooder", iface: LOGGER, fn: "say", args: ["still serving"], source: "test", deadline: Date.now() + 5_000 });
    assert.ok(h.running);

    // Every record is either in the stream or counted in a drop record: nothing is lost unsaid.
    const all = await until(
      async () => {
        const got = records((await runCli(["logs", "flooder", "--since", "1h", "-o", "json"], env)).stdout);
        const accounted = got.reduce((n, r) => n + (r.dropped ?? 1), 0);
        return accounted === FLOOD + 1 ? got : undefined;
      },
      15_000,
      `${FLOOD + 1} records of flooder kept or counted as dropped`,
    );
    const drops = all.filter((r) => r.dropped !== undefined);
    const kept = all.filter((r) => r.dropped === undefined && r.message === "again");
    assert.ok(drops.length >= 1);
    assert.match(drops[0]?.message ?? "", /^\d+ log records dropped: flooder logged over 50 a second \(burst 100\)$/);
    assert.equal(drops[0]?.level, "warn");
    assert.ok(kept.length >= 100 && kept.length < FLOOD / 10, `${kept.length} flood records kept`);
    assert.ok(kept.every((r) => r.level === "warn" && r.context === "flood"));
  });

  it("sends a source's records in order, in batches under the limit, long messages cut", async () => {
    const nats = await natsServer(cleanup);
    const nc = await connection(cleanup, nats.clientUrl);
    const subjects = new Subjects("default");
    const hostId = "N" + "A".repeat(55);
    const batches: LogBatch[] = [];
    const sizes: number[] = [];
    const sub = nc.subscribe(subjects.logFilter(hostId, "big"), {
      callback: (_e, m) => {
        sizes.push(m.data.length);
        batches.push(m.json<LogBatch>());
      },
    });
    cleanup.add(() => sub.unsubscribe());
    await nc.flush();
    const logs = new LogPublisher({ nc, subjects, hostId, hostName: "unit", warn: () => undefined });
    for (let i = 0; i < 40; i++) assert.ok(logs.record("actor", "big", "info", `${i}:`.padEnd(6_000, "x")));
    assert.ok(logs.record("actor", "big", "error", "y".repeat(MAX_LOG_MESSAGE + 10)));
    logs.stop();
    await nc.flush();
    const got = await until(() => (batches.reduce((n, b) => n + b.records.length, 0) === 41 ? batches : undefined), 5_000, "41 records");
    assert.ok(got.length > 1, `${got.length} batches`);
    assert.ok(sizes.every((n) => n <= MAX_LOG_BATCH_BYTES), sizes.join(","));
    const all = got.flatMap((b) => b.records);
    assert.deepEqual(all.slice(0, 40).map((r) => r.message.split(":")[0]), Array.from({ length: 40 }, (_, i) => String(i)));
    assert.ok(got.every((b) => b.host === hostId && b.source === "big" && b.kind === "actor" && b.hostName === "unit"));
    assert.equal(all[40]?.message, `${"y".repeat(MAX_LOG_MESSAGE)}… (10 characters cut)`);
  });

  it("finds the last records of a source that logs rarely among chatty ones", async () => {
    const nats = await natsServer(cleanup, { jetstream: {} });
    const nc = await connection(cleanup, nats.clientUrl);
    const subjects = new Subjects("default");
    await ensureLogStream(nc, subjects);
    const hostId = "N" + "B".repeat(55);
    /** One message on the stream per call: a publisher of its own, flushed at once. */
    const one = (source: string, level: "info" | "error", message: string) => {
      const p = new LogPublisher({ nc, subjects, hostId, hostName: "unit", warn: () => undefined });
      p.record("actor", source, level, message);
      p.stop();
    };
    one("rare", "error", "rare 1");
    one("rare", "info", "rare 2");
    for (let i = 0; i < 300; i++) one("chatty", i === 10 ? "error" : "info", `chatty ${i}`);
    await nc.flush();
    const env = { LATTICE_NATS_URL: nats.clientUrl };
    await until(async () => records((await runCli(["logs", "-n", "1", "-o", "json"], env)).stdout)[0]?.message === "chatty 299", 5_000, "the last record in the stream");
    assert.deepEqual(records((await runCli(["logs", "rare", "-n", "1", "-o", "json"], env)).stdout).map((r) => r.message), ["rare 2"]);
    assert.deepEqual(records((await runCli(["logs", "rare", "-o", "json"], env)).stdout).map((r) => r.message), ["rare 1", "rare 2"]);
    assert.deepEqual(records((await runCli(["logs", "--level", "error", "-n", "5", "-o", "json"], env)).stdout).map((r) => r.message), ["rare 1", "chatty 10"]);
    assert.equal(records((await runCli(["logs", "chatty", "-n", "150", "-o", "json"], env)).stdout)[0]?.message, "chatty 150");
  });

  it("follows live records without JetStream, and says it has no history", async () => {
    const nats = await natsServer(cleanup);
    const h = await host(cleanup, nats.clientUrl, { name: "no-js", providers: new NodeProviderLauncher({ logLevel: "info" }) });
    const env = { LATTICE_NATS_URL: nats.clientUrl };
    const history = await runCli(["logs"], env);
    assert.notEqual(history.code, 0);
    assert.match(history.stderr, /^lattice: unavailable: no log history in lattice default: .*lattice logs --follow shows records as they come/m);
    const follow = child(["logs", "echo-p", "--follow", "-o", "json", "--nats-url", nats.clientUrl]);
    await follow.stderrIncludes("following live log records");
    assert.match(follow.stderr, /lattice: warning: no log history: .*; following live records only/);
    await cliJson(["start", "provider", PROVIDER, "--id", "echo-p", "--host", h.id, "-o", "json"], env);
    const nc = await connection(cleanup, nats.clientUrl);
    await invoke(nc, new Subjects("default"), { target: "echo-p", iface: ECHO, fn: "say", args: ["live only"], source: "test", deadline: Date.now() + 5_000 });
    const seen = await until(() => records(follow.stdout).find((r) => r.message === "live only"), 10_000, "the live record");
    assert.equal(seen.source, "echo-p");
  });
});
