/**
 * The other side of the invocation benchmark, in its own process as providers are: a bare NATS
 * responder and a lattice provider (in two lattices, one verifying invocations), all echoing.
 * Prints "ready" once all serve; exits on SIGTERM.
 */
import { silentLogger } from "../src/host/index.js";
import { RESILIENT } from "../src/nats/index.js";
import { connectNode } from "../src/nats/node/index.js";
import { Provider } from "../src/provider/index.js";

const servers = process.argv[2];
if (!servers) throw new Error("usage: echo-responders NATS_URL");

const raw = await connectNode({ ...RESILIENT, servers });
raw.subscribe("bench.raw.echo", { callback: (_e, m) => void m.respond(m.data) });
await raw.flush();

// With a signing seed (as a host gives its providers), the provider can fetch session keys.
const signingSeed = process.env.LATTICE_SIGNING_SEED;
// The same provider in two lattices: "bench" does not verify invocations, "bench-signed" does.
const nc = await connectNode({ ...RESILIENT, servers });
const providers = ["bench", "bench-signed"].map((lattice) => new Provider({ nc, id: "bench", lattice, config: {}, signingSeed, log: silentLogger, onHealth: () => undefined }));
for (const p of providers) await p.start(() => ({ exports: { "bench:echo/echo": { echo: (_ctx, b) => b } } }));

process.stdout.write("ready\n");
process.once("SIGTERM", () => {
  void Promise.all(providers.map((p) => p.stop())).then(() => process.exit(0));
});
