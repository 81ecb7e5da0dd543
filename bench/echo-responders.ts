/**
 * The other side of the invocation benchmark, in its own process as providers are: a bare NATS
 * responder and a lattice provider, both echoing. Prints "ready" once both serve; exits on SIGTERM.
 */
import { silentLogger } from "../src/host/index.js";
import { RESILIENT } from "../src/nats/index.js";
import { connectNode } from "../src/nats/node.js";
import { Provider } from "../src/provider/index.js";

const servers = process.argv[2];
if (!servers) throw new Error("usage: echo-responders NATS_URL");

const raw = await connectNode({ ...RESILIENT, servers });
raw.subscribe("bench.raw.echo", { callback: (_e, m) => void m.respond(m.data) });
await raw.flush();

const provider = new Provider({ nc: await connectNode({ ...RESILIENT, servers }), id: "bench", lattice: "bench", config: {}, log: silentLogger, onHealth: () => undefined });
await provider.start(() => ({ exports: { "bench:echo/echo": { echo: (_ctx, b) => b } } }));

process.stdout.write("ready\n");
process.once("SIGTERM", () => {
  void provider.stop().then(() => process.exit(0));
});
