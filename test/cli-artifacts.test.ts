/** `lattice delete artifact`: the undo of `lattice push`, against a real JetStream. */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ArtifactStore, type ArtifactInfo } from "../src/nats/artifact-store.js";
import type { NatsServer } from "../src/nats/node/server-launcher.js";
import { cliJson, runCli } from "./kit/cli.js";
import { watEcho, watThing } from "./kit/fixtures.js";
import { Cleanup, connection, natsServer } from "./kit/lattice.js";

describe("lattice delete artifact", () => {
  const cleanup = new Cleanup();
  after(cleanup.run);
  let nats: NatsServer;
  let one: string;
  let two: string;

  before(async () => {
    nats = await natsServer(cleanup, { jetstream: {} });
    const dir = mkdtempSync(join(tmpdir(), "lattice-delete-"));
    cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
    one = join(dir, "one.wasm");
    two = join(dir, "two.wasm");
    writeFileSync(one, await watEcho());
    writeFileSync(two, await watThing(2));
  });

  const at = () => ["--nats-url", nats.clientUrl];

  it("removes a pushed version; latest falls back to the one left", async () => {
    await cliJson(["push", one, "--name", "echo:1.0", ...at()]);
    const pushed = await cliJson<ArtifactInfo>(["push", two, "--name", "echo:2.0", ...at()]);
    const deleted = await cliJson<{ name: string; version: string; deleted: boolean }>(["delete", "artifact", "echo:2.0", ...at()]);
    assert.deepEqual(deleted, { name: "echo", version: "2.0", deleted: true });
    const left = await cliJson<ArtifactInfo[]>(["get", "artifacts", "echo", ...at()]);
    assert.deepEqual(left.map((a) => a.version), ["1.0"]);
    assert.notEqual(left[0]?.digest, pushed.digest);
    const store = new ArtifactStore(await connection(cleanup, nats.clientUrl), "default");
    assert.equal((await store.get({ name: "echo", version: "latest" })).info.version, "1.0");
    const text = await runCli(["delete", "artifact", "echo:1.0", ...at()]);
    assert.equal(text.code, 0, text.stderr);
    assert.equal(text.stdout, "deleted artifact echo:1.0 from lattice default\n");
    assert.deepEqual(await cliJson<ArtifactInfo[]>(["get", "artifacts", ...at()]), []);
  });

  it("refuses a version that is not there, and a bare name, saying what to do", async () => {
    await cliJson(["push", one, "--name", "kept:1.0", ...at()]);
    const missing = await runCli(["delete", "artifact", "kept:9.9", ...at()]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, "");
    assert.equal(missing.stderr, "lattice: there is no artifact kept:9.9 in lattice default (`lattice get artifacts` lists them)\n");
    const bare = await runCli(["delete", "artifact", "kept", "-o", "json", ...at()]);
    assert.equal(bare.code, 1);
    assert.equal(bare.stdout, "");
    assert.match(bare.stderr, /^lattice: name the version to delete, e\.g\. kept:1\.0 \(`lattice get artifacts kept` lists them; kept:latest removes only the latest pointer\)\n$/);
    assert.deepEqual((await cliJson<ArtifactInfo[]>(["get", "artifacts", "kept", ...at()])).map((a) => a.version), ["1.0"], "nothing was deleted");
  });
});
