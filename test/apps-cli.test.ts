/**
 * Apps as a new user meets them, through the real CLI: the reconciler places an app on the hosts
 * that take it and says why it skipped the others; status shows the versions that run beside the
 * desired ones; deploy and validate check artifacts and providers; `undeploy --wait` returns only
 * once nothing of the app runs; `app list` gives relative times.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NatsConnection } from "@nats-io/nats-core";
import { createAccount } from "@nats-io/nkeys";
import { AppStore, parseManifest, reconcilerExtension } from "../src/apps/index.js";
import { LatticeClient } from "../src/ctl/index.js";
import { ArtifactStore } from "../src/nats/artifact-store.js";
import { invoke } from "../src/nats/invocations.js";
import { freePort } from "../src/nats/node/index.js";
import { Subjects, parseArtifactRef, type AppStatus, type HostInventory } from "../src/protocol/index.js";
import { cliJson, runCli } from "./kit/cli.js";
import { watEcho } from "./kit/fixtures.js";
import { Cleanup, connection, host, natsServer } from "./kit/lattice.js";
import { until } from "./kit/poll.js";

const ECHO = "acme:demo/echo";

const spreadApp = (version: string, ref: string) => `
name: spread
version: ${version}
components:
  - id: echo
    actor: ${ref}
    placement: { spread: { instances: 3 } }
`;

/** What the hosts run now, as `app status -o json` reports it. */
interface Live {
  component: string;
  hostName: string;
  ref: string;
  instances: number;
}

describe("apps from the CLI", () => {
  const cleanup = new Cleanup();
  let env: NodeJS.ProcessEnv;
  let nc: NatsConnection;
  let client: LatticeClient;
  let store: AppStore;

  const file = (name: string, text: string): string => {
    const f = join(tmpdir(), `lattice-${process.pid}-apps-cli-${name}`);
    writeFileSync(f, text);
    cleanup.add(() => rmSync(f, { force: true }));
    return f;
  };
  /** Instances of an actor by host name. */
  const instances = async (id: string): Promise<Record<string, number>> => {
    const inv: HostInventory[] = (await client.inventories()).replies;
    return Object.fromEntries(inv.filter((h) => h.actors.some((a) => a.id === id)).map((h) => [h.host.name, h.actors.find((a) => a.id === id)!.instances]));
  };
  const status = async (name: string) => cliJson<{ status: AppStatus | null; live: Live[] }>(["app", "status", name], env);
  const reconciling = () => ({ extensions: [reconcilerExtension({ intervalMs: 500 })] });

  before(async () => {
    const nats = await natsServer(cleanup, { jetstream: {} });
    env = { LATTICE_NATS_URL: nats.clientUrl };
    nc = await connection(cleanup, nats.clientUrl);
    client = new LatticeClient(nc, "default", { timeoutMs: 3_000, stallMs: 300 });
    store = new AppStore(nc, "default");
    await new ArtifactStore(nc, "default").put(parseArtifactRef("echo:1"), await watEcho());
    // An issuer nobody signs with: the strict host refuses every actor here.
    await host(cleanup, nats.clientUrl, { name: "strict", allowedIssuers: [createAccount().getPublicKey()], ...reconciling() });
    await host(cleanup, nats.clientUrl, { name: "normal", labels: { role: "normal" }, ...reconciling() });
    await until(async () => (await client.hosts()).replies.length === 2, 15_000, "two hosts");
  });
  after(cleanup.run);

  it("the reconciler reaches the full count on the host that takes the actor, and says why it skipped the other", async () => {
    const r = await runCli(["app", "deploy", file("spread-v1.yaml", spreadApp("v1", "echo:1")), "--wait", "30s"], env, 60_000);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await instances("echo"), { normal: 3 });
    const s = (await status("spread")).status!;
    assert.equal(s.phase, "deployed");
    assert.match(s.components[0]!.reasons.join("\n"), /^host strict skipped: .*unsigned/m);
    const text = await runCli(["app", "status", "spread"], env);
    assert.match(text.stdout, /^echo: host strict skipped: .*unsigned/m);
  });

  it("status shows the version that runs beside the desired one during a failed roll", async () => {
    // echo:2 was never pushed: the roll fails and 1.0 keeps running.
    await store.deploy(parseManifest(spreadApp("v2", "echo:2")));
    const s = await until(async () => {
      const s = await status("spread");
      return s.status?.version === "v2" && s.status.phase === "failed" ? s : undefined;
    }, 30_000, "the roll to v2 failing", 100);
    assert.equal(s.status!.components[0]!.ref, "echo:2");
    assert.deepEqual(s.live.map((l) => [l.component, l.hostName, l.ref, l.instances]), [["echo", "normal", "echo:1", 3]]);
    const text = await runCli(["app", "status", "spread"], env);
    assert.match(text.stdout, /^echo\s+actor\s+normal\s+3 × echo:2\s+3 × echo:1$/m);
    assert.match(text.stdout, /^echo: 3 instances still run echo:1, not the desired echo:2$/m);

    await store.rollback("spread", "v1");
    await until(async () => {
      const s = (await status("spread")).status;
      return s?.version === "v1" && s.phase === "deployed";
    }, 30_000, "back at v1", 100);
  });

  it("app list says when each app changed as a time ago", async () => {
    const r = await runCli(["app", "list"], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^spread\s+v1\s+deployed\s+3\/3\s+\d+(s|m\d+s) ago$/m);
    assert.doesNotMatch(r.stdout, /\d{4}-\d\d-\d\dT/);
  });

  it("validate and deploy refuse an unknown provider and a missing artifact; validate says when it cannot check", async () => {
    const badProvider = file("bad-provider.yaml", "name: typo\nversion: v1\ncomponents:\n  - id: p\n    provider: nosuch-provider\n");
    const v1 = await runCli(["app", "validate", badProvider], env);
    assert.equal(v1.code, 1);
    assert.match(v1.stderr, /line 5: components\[0\]\.provider: nosuch-provider is neither a built-in provider \(keyvalue, http-server, messaging\) nor a provider module/);

    const missing = file("missing.yaml", "name: typo\nversion: v1\ncomponents:\n  - id: a\n    actor: nosuch:1\n");
    const v2 = await runCli(["app", "validate", missing], env);
    assert.equal(v2.code, 1);
    const why = /line 5: components\[0\]\.actor: artifact nosuch:1 is not in lattice default's artifact store: push it first/;
    assert.match(v2.stderr, why);
    const offline = await runCli(["app", "validate", missing, "--nats-url", `nats://127.0.0.1:${await freePort()}`], env);
    assert.equal(offline.code, 0, offline.stderr);
    assert.match(offline.stderr, /^note: actor artifacts not checked: lattice default cannot be reached/m);
    assert.match(offline.stdout, /app typo v1, 1 component, 0 links: valid/);

    const d = await runCli(["app", "deploy", missing], env);
    assert.equal(d.code, 1);
    assert.match(d.stderr, why);
    assert.equal(await store.record("typo"), undefined, "nothing was deployed");
    const forced = await runCli(["app", "deploy", missing, "--no-check-artifacts"], env);
    assert.equal(forced.code, 0, forced.stderr);
    await store.undeploy("typo");
    await until(async () => (await store.record("typo")) === undefined, 30_000, "typo removed");
  });

  it("undeploy --wait returns only once no host runs anything of the app", async () => {
    const busy = "name: busy\nversion: v1\ncomponents:\n  - id: busy\n    actor: echo:1\n    placement: { labels: { role: normal } }\n";
    const d = await runCli(["app", "deploy", file("busy.yaml", busy), "--wait", "30s"], env, 60_000);
    assert.equal(d.code, 0, d.stderr);
    // A call in flight holds the instance while it drains: its host answers the stop only after.
    const spinning = invoke(nc, new Subjects("default"), { target: "busy", iface: ECHO, fn: "spin", args: [], source: "test", deadline: Date.now() + 8_000, attemptTimeoutMs: 0 }).catch(
      (e: unknown) => e,
    );
    const r = await runCli(["app", "undeploy", "busy", "--wait", "60s"], env, 90_000);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await instances("busy"), {}, "nothing of the app runs once undeploy --wait returns");
    await spinning;
  });
});
