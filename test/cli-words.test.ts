/** One way to write counts, sizes, durations and error messages, across the CLI. */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseDuration } from "../src/cli/parse.js";
import { formatAge, formatBytes, formatDuration } from "../src/cli/output.js";
import { plural } from "../src/ctl/wording.js";
import { runCli } from "./kit/cli.js";
import { Cleanup, natsServer } from "./kit/lattice.js";

describe("CLI words and units", () => {
  const cleanup = new Cleanup();
  after(cleanup.run);

  it("counts take the plural only when they are not 1", () => {
    assert.equal(plural(1, "value"), "1 value");
    assert.equal(plural(0, "value"), "0 values");
    assert.equal(plural(2, "instance"), "2 instances");
    assert.equal(plural(3, "child", "children"), "3 children");
  });

  it("sizes are decimal with one decimal below 100: the same file reads the same at build and push", () => {
    assert.equal(formatBytes(950), "950 B");
    assert.equal(formatBytes(1_234_567), "1.2 MB");
    assert.equal(formatBytes(11.4 * 1024 * 1024), "12.0 MB");
    assert.equal(formatBytes(240_000_000), "240 MB");
  });

  it("a duration prints the way it is written on the command line", () => {
    for (const text of ["500ms", "1.5s", "20s", "2m", "1h"]) assert.equal(formatDuration(parseDuration(text)), text);
    assert.equal(formatDuration(90_000), "1m30s");
    assert.equal(formatDuration(7_340), "7.3s");
    assert.equal(formatDuration(3_600_000 + 5 * 60_000 + 7_000), "1h5m");
    assert.equal(formatDuration(0), "0s");
    assert.equal(formatAge(new Date(Date.now() - 20_400).toISOString()), "20s ago");
  });

  it("commander's usage errors start `lattice:` like every other error, and point at the help", async () => {
    const r = await runCli(["get", "hosts", "--bogus"]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "lattice: unknown option '--bogus'\n(see `lattice get hosts --help`)\n");
    const missing = await runCli(["push", "x.wasm"]);
    assert.equal(missing.stderr, "lattice: required option '--name <name[:version]>' not specified\n(see `lattice push --help`)\n");
  });

  it("config put counts its values in words", async () => {
    const nats = await natsServer(cleanup, { jetstream: {} });
    const one = await runCli(["config", "put", "single", "a=1", "--nats-url", nats.clientUrl]);
    assert.equal(one.stdout, "config single: 1 value\n", one.stderr);
    const two = await runCli(["config", "put", "pair", "a=1", "b=2", "--nats-url", nats.clientUrl]);
    assert.equal(two.stdout, "config pair: 2 values\n", two.stderr);
  });

  it("security get prints its window as a duration", async () => {
    const nats = await natsServer(cleanup, { jetstream: {} });
    const set = await runCli(["security", "set", "--window", "90s", "--nats-url", nats.clientUrl]);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /^window: {13}1m30s$/m);
    assert.match(set.stdout, /^updated: {12}\d+(ms|s) ago \(\d{4}-\d\d-\d\dT/m);
  });
});
