/**
 * NATS security: every client takes credentials; a host without them is refused; two lattices
 * with the same name in two NATS accounts on one server never see or call each other.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createUser } from "@nats-io/nkeys";
import type { NatsServer } from "../src/nats/node/index.js";
import type { HostInfo } from "../src/protocol/index.js";
import { CliProcess, cliJson, runCli } from "./kit/cli.js";
import { Cleanup, natsServer } from "./kit/lattice.js";

describe("NATS accounts and credentials", () => {
  const cleanup = new Cleanup();
  let nats: NatsServer;
  const alice = ["--user", "alice", "--password", "a-secret"];
  const bob = ["--user", "bob", "--password", "b-secret"];
  let aliceHost: string;

  before(async () => {
    nats = await natsServer(cleanup, {
      accounts: {
        A: { users: [{ user: "alice", password: "a-secret" }], jetstream: true },
        B: { users: [{ user: "bob", password: "b-secret" }], jetstream: true },
      },
    });
    const p = new CliProcess(["host", "--nats-url", nats.clientUrl, ...alice, "--name", "in-a", "-o", "json", "--log-level", "warn"]);
    cleanup.add(() => p.stop("SIGKILL"));
    const [ready] = await p.jsonLines<{ host: HostInfo }>(1);
    aliceHost = ready!.host.id;
    const q = new CliProcess(["host", "--nats-url", nats.clientUrl, "--name", "in-b", "-o", "json", "--log-level", "warn"], { LATTICE_NATS_USER: "bob", LATTICE_NATS_PASSWORD: "b-secret" });
    cleanup.add(() => q.stop("SIGKILL"));
    await q.jsonLines(1);
  });
  after(cleanup.run);

  it("the same lattice name in two accounts: each sees only its own hosts", async () => {
    const inA = await cliJson<HostInfo[]>(["get", "hosts", "--nats-url", nats.clientUrl, ...alice]);
    assert.deepEqual(inA.map((h) => h.name), ["in-a"]);
    const inB = await cliJson<HostInfo[]>(["get", "hosts", "--nats-url", nats.clientUrl, ...bob]);
    assert.deepEqual(inB.map((h) => h.name), ["in-b"]);
    // Not even a directed request crosses: the host id of A is unknown in B.
    const cross = await runCli(["get", "inventory", aliceHost, "--nats-url", nats.clientUrl, ...bob]);
    assert.equal(cross.code, 1);
    assert.match(cross.stderr, /not_found/);
  });

  it("a client without credentials, or with wrong ones, is refused with a clear error", async () => {
    for (const args of [[], ["--user", "alice", "--password", "wrong"]]) {
      const r = await runCli(["get", "hosts", "--nats-url", nats.clientUrl, ...args]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /cannot reach NATS at .*: .*(Authorization Violation|authorization)/i);
      assert.doesNotMatch(r.stderr, /a-secret/);
    }
    const host = await runCli(["host", "--nats-url", nats.clientUrl, "--name", "intruder"]);
    assert.equal(host.code, 1);
    assert.match(host.stderr, /Authorization Violation/i);
  });

  it("an unreadable credentials file is named", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lattice-auth-"));
    cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
    const seedFile = join(dir, "user.nk");
    writeFileSync(seedFile, new TextDecoder().decode(createUser().getSeed()));
    const missing = await runCli(["get", "hosts", "--nats-url", nats.clientUrl, "--creds", join(dir, "nope.creds")]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read the credentials file .*nope\.creds: ENOENT/);
    // A valid seed of a user the server does not know is refused like any stranger.
    const stranger = await runCli(["get", "hosts", "--nats-url", nats.clientUrl, "--nkey", seedFile]);
    assert.equal(stranger.code, 1);
    assert.match(stranger.stderr, /Authorization Violation/i);
  });
});
