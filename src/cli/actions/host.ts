/** What `lattice host` does. */
import { parseServers, redactUrl } from "../../nats/connection-options.js";
import { shutdownTracing } from "../../nats/node/tracing-setup.js";
import type { HostFlags } from "../host-options.js";
import { startHost } from "../host-runner.js";
import type { LatticeOpts, OutputOpts } from "../lattice-options.js";
import { printJsonLine } from "../output.js";
import { untilSignal } from "../signals.js";

export type HostOpts = LatticeOpts & OutputOpts & HostFlags;

export async function host(opts: HostOpts): Promise<void> {
  const host = await startHost(opts.natsUrl, opts.lattice, opts, opts);
  // Listening before the ready line: a SIGTERM right after it must stop the host, not kill the process.
  const signalled = untilSignal();
  if (opts.output === "json") printJsonLine({ ready: true, host: host.info() });
  else process.stdout.write(`host ${host.name} (${host.id}) joined lattice ${host.lattice} at ${parseServers(opts.natsUrl).map(redactUrl).join(",")}\nStop it with Ctrl-C.\n`);
  const signal = await signalled;
  await host.stop(`received ${signal}`);
  await shutdownTracing();
}
