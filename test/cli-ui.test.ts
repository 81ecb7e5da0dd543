/** `lattice ui` as a user runs it: the pages, their config, isolation headers, and its refusals. */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { CliProcess, runCli } from "./kit/cli.js";
import { Cleanup } from "./kit/lattice.js";

type Started = { dashboard: string; host: string; nats: string[]; lattice: string; port: number };

describe("lattice ui", () => {
  const cleanup = new Cleanup();
  after(cleanup.run);

  async function ui(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ proc: CliProcess; base: string; started: Started }> {
    const proc = new CliProcess(["ui", "--port", "0", "-o", "json", ...args], env);
    cleanup.add(() => proc.stop("SIGKILL"));
    const [started] = await proc.jsonLines<Started>(1);
    return { proc, base: started!.dashboard.replace(/\/$/, ""), started: started! };
  }

  it("serves the dashboard, the host page and their config, cross-origin isolated, and stops on SIGTERM", async () => {
    const { proc, base, started } = await ui(["--nats-ws", "ws://127.0.0.1:9/,ws://127.0.0.1:10", "--lattice", "blue", "--user", "u", "--password", "p"]);
    assert.deepEqual(started.nats, ["ws://127.0.0.1:9/", "ws://127.0.0.1:10"]);
    assert.equal(started.lattice, "blue");
    assert.match(started.host, /\/host\?name=NAME$/);
    for (const [path, type, marker] of [
      ["/", "text/html", "dashboard.page.js"],
      ["/host?name=tab", "text/html", "host.page.js"],
      ["/host.page.js", "text/javascript", ""],
      ["/style.css", "text/css", ""],
    ] as const) {
      const res = await fetch(base + path);
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get("content-type") ?? "", new RegExp(type), path);
      assert.equal(res.headers.get("cross-origin-opener-policy"), "same-origin", path);
      assert.equal(res.headers.get("cross-origin-embedder-policy"), "require-corp", path);
      assert.ok((await res.text()).includes(marker), `${path} lacks ${marker}`);
    }
    const config = (await (await fetch(`${base}/config.json`)).json()) as { servers: string[]; lattice: string; auth: Record<string, string> };
    assert.deepEqual(config, { servers: ["ws://127.0.0.1:9/", "ws://127.0.0.1:10"], lattice: "blue", auth: { user: "u", password: "p" } });
    const head = await fetch(`${base}/host.page.js`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.ok(Number(head.headers.get("content-length")) > 1000, "HEAD gives the length of what GET would send");
    assert.equal((await fetch(`${base}/nope.js`)).status, 404);
    assert.equal((await fetch(`${base}/%2e%2e/package.json`)).status, 404, "nothing outside the pages' folder");
    assert.equal((await fetch(`${base}/`, { method: "POST" })).status, 405);
    assert.equal(await proc.stop("SIGTERM"), 0);
  });

  it("refuses what it cannot serve, saying why", async () => {
    const notWs = await runCli(["ui", "--port", "0", "--nats-ws", "nats://127.0.0.1:4222"]);
    assert.equal(notWs.code, 1);
    assert.match(notWs.stderr, /not a WebSocket URL/);
    const tls = await runCli(["ui", "--port", "0", "--tls-cert", "/x.pem", "--nats-ws", "ws://127.0.0.1:9"]);
    assert.equal(tls.code, 1);
    assert.match(tls.stderr, /client TLS certificates cannot be handed to a page/);
    const { started } = await ui(["--nats-ws", "ws://127.0.0.1:9"]);
    const busy = await runCli(["ui", "--port", String(started.port), "--nats-ws", "ws://127.0.0.1:9"]);
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, new RegExp(`port ${started.port} is in use`));
    const wide = await ui(["--nats-ws", "ws://127.0.0.1:9", "--bind", "0.0.0.0", "--token", "t"]);
    await wide.proc.stderrIncludes("is not a loopback address");
  });
});
