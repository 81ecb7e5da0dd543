/** What `lattice ui` does. */
import { readFileSync } from "node:fs";
import type { PageAuth } from "../../protocol/page-config.js";
import { parseServers, redactUrl } from "../../nats/connection-options.js";
import { CliError } from "../errors.js";
import type { LatticeOpts, OutputOpts } from "../lattice-options.js";
import { printJsonLine } from "../output.js";
import { untilSignal } from "../signals.js";
import { startUiServer } from "../ui-server.js";
import { readUpRecord } from "../up-state.js";

export type UiOpts = LatticeOpts & OutputOpts & { port: number; bind: string; natsWs?: string; stateDir: string };

/** The WebSocket listener `lattice up` starts by default. */
const DEFAULT_NATS_WS = "ws://127.0.0.1:4223";

function readFileFlag(flag: string, path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new CliError(`${flag} ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

/** The command's NATS credentials, as the pages get them. */
function pageAuth(opts: LatticeOpts): PageAuth {
  if (opts.tlsCert || opts.tlsKey) throw new CliError("client TLS certificates cannot be handed to a page: use --creds, --nkey, --user/--password or --token");
  const auth: PageAuth = {};
  if (opts.creds) auth.creds = readFileFlag("--creds", opts.creds);
  if (opts.nkey) auth.nkey = readFileFlag("--nkey", opts.nkey);
  if (opts.user) auth.user = opts.user;
  if (opts.password) auth.password = opts.password;
  if (opts.token) auth.token = opts.token;
  return auth;
}

function isLoopback(bind: string): boolean {
  return bind === "localhost" || bind === "::1" || bind.startsWith("127.");
}

export async function ui(opts: UiOpts): Promise<void> {
  const servers = parseServers(opts.natsWs ?? readUpRecord(opts.stateDir, opts.lattice)?.websocketUrl ?? DEFAULT_NATS_WS);
  for (const s of servers) if (!/^wss?:\/\//.test(s)) throw new CliError(`--nats-ws ${s}: not a WebSocket URL (ws://HOST:PORT or wss://…)`);
  const auth = pageAuth(opts);
  const server = await startUiServer({ port: opts.port, bind: opts.bind, config: { servers, lattice: opts.lattice, auth } }).catch((e: unknown) => {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(code === "EADDRINUSE" ? `port ${opts.port} is in use: pick another with --port (0: any free port)` : `cannot listen on ${opts.bind}:${opts.port}: ${String(e)}`);
  });
  const urls = { dashboard: `${server.url}/`, host: `${server.url}/host?name=NAME`, nats: servers.map(redactUrl), lattice: opts.lattice, port: server.port };
  if (opts.output === "json") printJsonLine(urls);
  else process.stdout.write(`dashboard     ${urls.dashboard}\nbrowser host  ${urls.host}\nlattice       ${opts.lattice} over ${urls.nats.join(", ")}\n`);
  if (Object.keys(auth).length > 0 && !isLoopback(opts.bind)) {
    process.stderr.write(`warning: the pages are given this command's NATS credentials, and ${opts.bind} is not a loopback address\n`);
  }
  await untilSignal();
  await server.close();
}
