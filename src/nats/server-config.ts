// Rendering a nats-server (2.9+) configuration file. Pure: no I/O, so it runs anywhere and is
// unit tested directly; the Node launcher writes the result to disk.
import { ErrorCode, LatticeError } from "../protocol/index.js";

/** A byte size: a number of bytes, or a string with a unit such as "64MB", "1G", "512KiB". */
export type ByteSize = number | string;

export interface WebsocketOptions {
  /** Plain (no TLS) websocket listener for browser clients. */
  port: number;
}

export interface ClusterOptions {
  name: string;
  port: number;
  /** Route URLs of the other members, e.g. "nats-route://127.0.0.1:6222". */
  routes?: string[];
}

/** Another cluster this one joins by gateway: its name and gateway URLs, e.g. "nats://127.0.0.1:7222". */
export interface GatewayRemote {
  name: string;
  urls: string[];
}

/**
 * A gateway joins this server's cluster to others into a supercluster. `name` is the cluster's
 * (a `cluster` block, if any, must carry the same). Gateways are discovered: naming one other
 * cluster is enough, each learns the rest from the others.
 */
export interface GatewayOptions {
  name: string;
  port: number;
  /** The host:port other clusters are told to connect to, instead of the listen address. */
  advertise?: string;
  gateways?: GatewayRemote[];
}

export interface LeafRemote {
  /** Leafnode URLs of the hub, e.g. "nats-leaf://127.0.0.1:7422". */
  urls: string[];
  /** Local account to bind this leaf connection to. */
  account?: string;
  /** Path of a .creds file used to authenticate to the hub. */
  credentials?: string;
}

export interface LeafnodeOptions {
  /** Listen for leaf connections on this port (omit to only solicit `remotes`). */
  port?: number;
  /** The host:port to tell leaves to connect to, instead of the listen address (a proxy's, say). */
  advertise?: string;
  remotes?: LeafRemote[];
}

export interface JetStreamOptions {
  /** nats-server stores its data in a `jetstream` directory *inside* this one. */
  storeDir: string;
  domain?: string;
  maxMemory?: ByteSize;
  maxFile?: ByteSize;
}

export interface AccountOptions {
  /** Users by name and password, or by nkey (a user public key `U…`: the client proves it holds the seed). */
  users?: Array<{ user: string; password: string } | { nkey: string }>;
  jetstream?: boolean;
}

export interface AuthorizationOptions {
  user?: string;
  password?: string;
  token?: string;
}

export interface NatsServerOptions {
  /** Listen address of every listener (default 127.0.0.1). */
  host?: string;
  /**
   * Client port. Optional here only because the launcher fills it in; rendering requires it.
   * Here and for every other listener, -1 lets nats-server pick a free port.
   */
  port?: number;
  serverName?: string;
  websocket?: WebsocketOptions;
  cluster?: ClusterOptions;
  leafnodes?: LeafnodeOptions;
  gateway?: GatewayOptions;
  jetstream?: JetStreamOptions;
  accounts?: Record<string, AccountOptions>;
  systemAccount?: string;
  authorization?: AuthorizationOptions;
  maxPayload?: ByteSize;
  /**
   * How often the server pings a quiet client, and how many unanswered pings close it (nats-server
   * defaults: 2 minutes, 2). A frozen client keeps its subscriptions (and its share of queue-group
   * messages) until then; lattice's callers route around it within a second regardless, this
   * frees what it holds.
   */
  ping?: { intervalMs: number; maxOut: number };
  debug?: boolean;
  /**
   * nats-server writes `<binary name>_<pid>.ports` here once it listens: JSON with the URLs of its
   * client, route and websocket listeners (2.9 lists no leafnode or gateway listener). How a launcher learns
   * the ports it chose for -1.
   */
  portsFileDir?: string;
}

export const DEFAULT_NATS_HOST = "127.0.0.1";

/**
 * Quotes a string for the nats conf format. Close to JSON, but the parser only knows the escapes
 * \xXX \t \n \r \" \\ (JSON's \uXXXX, \b and \f are rejected), so JSON.stringify isn't safe for
 * control characters. Non-ASCII text is written as is (the file is UTF-8). Quoted strings are
 * not subject to `$VAR` substitution.
 */
export function quoteConf(value: string): string {
  let out = '"';
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return out + '"';
}

function port(name: string, value: number): string {
  if (!Number.isInteger(value) || value < -1 || value > 65535) {
    throw new LatticeError(ErrorCode.BadRequest, `${name} must be an integer port number (0-65535, or -1 for any free port), got ${String(value)}`);
  }
  return String(value);
}

// Sizes must be bare (unquoted) literals: 2.9 rejects a quoted "64MB" for JetStream limits.
function size(name: string, value: ByteSize): string {
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value) || value < 0) throw new LatticeError(ErrorCode.BadRequest, `${name} must be a non-negative integer`);
    return String(value);
  }
  const v = value.trim();
  if (!/^\d+(?:[kmgt](?:i?b|i)?)?$/i.test(v)) {
    throw new LatticeError(ErrorCode.BadRequest, `${name} must be a byte size such as 1048576, "64MB" or "1G", got ${JSON.stringify(value)}`);
  }
  return v;
}

function list(values: string[]): string {
  return `[${values.map(quoteConf).join(", ")}]`;
}

/** Renders the configuration file text for `opts`. Throws on invalid ports or sizes. */
export function renderNatsConfig(opts: NatsServerOptions): string {
  if (opts.port === undefined) throw new LatticeError(ErrorCode.BadRequest, "renderNatsConfig: port is required");
  const host = quoteConf(opts.host ?? DEFAULT_NATS_HOST);
  const lines: string[] = ["# Generated by lattice. Edits are overwritten on restart.", `host: ${host}`];
  lines.push(`port: ${port("port", opts.port)}`);
  if (opts.portsFileDir !== undefined) lines.push(`ports_file_dir: ${quoteConf(opts.portsFileDir)}`);
  if (opts.serverName !== undefined) lines.push(`server_name: ${quoteConf(opts.serverName)}`);
  if (opts.maxPayload !== undefined) lines.push(`max_payload: ${size("maxPayload", opts.maxPayload)}`);
  if (opts.ping) {
    if (!Number.isInteger(opts.ping.intervalMs) || opts.ping.intervalMs < 1 || !Number.isInteger(opts.ping.maxOut) || opts.ping.maxOut < 1) {
      throw new LatticeError(ErrorCode.BadRequest, `ping: interval (ms) and max out must be positive whole numbers, got ${JSON.stringify(opts.ping)}`);
    }
    lines.push(`ping_interval: ${quoteConf(`${opts.ping.intervalMs}ms`)}`, `ping_max: ${opts.ping.maxOut}`);
  }
  if (opts.debug) lines.push("debug: true");

  const auth = opts.authorization;
  if (auth && (auth.user !== undefined || auth.password !== undefined || auth.token !== undefined)) {
    lines.push("", "authorization {");
    if (auth.user !== undefined) lines.push(`  user: ${quoteConf(auth.user)}`);
    if (auth.password !== undefined) lines.push(`  password: ${quoteConf(auth.password)}`);
    if (auth.token !== undefined) lines.push(`  token: ${quoteConf(auth.token)}`);
    lines.push("}");
  }

  if (opts.websocket) {
    lines.push(
      "",
      "websocket {",
      `  host: ${host}`,
      `  port: ${port("websocket.port", opts.websocket.port)}`,
      // Plain ws:// for local development and browser hosts behind a TLS-terminating proxy.
      "  no_tls: true",
      "}",
    );
  }

  if (opts.cluster) {
    const c = opts.cluster;
    lines.push("", "cluster {", `  name: ${quoteConf(c.name)}`, `  host: ${host}`, `  port: ${port("cluster.port", c.port)}`);
    if (c.routes && c.routes.length > 0) lines.push(`  routes: ${list(c.routes)}`);
    lines.push("}");
  }

  if (opts.leafnodes) {
    const l = opts.leafnodes;
    lines.push("", "leafnodes {");
    if (l.port !== undefined) lines.push(`  host: ${host}`, `  port: ${port("leafnodes.port", l.port)}`);
    if (l.advertise !== undefined) lines.push(`  advertise: ${quoteConf(l.advertise)}`);
    if (l.remotes && l.remotes.length > 0) {
      lines.push("  remotes: [");
      for (const r of l.remotes) {
        const fields = [`urls: ${list(r.urls)}`];
        if (r.account !== undefined) fields.push(`account: ${quoteConf(r.account)}`);
        if (r.credentials !== undefined) fields.push(`credentials: ${quoteConf(r.credentials)}`);
        lines.push(`    { ${fields.join(", ")} }`);
      }
      lines.push("  ]");
    }
    lines.push("}");
  }

  if (opts.gateway) {
    const g = opts.gateway;
    if (opts.cluster && opts.cluster.name !== g.name) {
      throw new LatticeError(ErrorCode.BadRequest, `a gateway's name is its cluster's: gateway ${JSON.stringify(g.name)} on cluster ${JSON.stringify(opts.cluster.name)}`);
    }
    lines.push("", "gateway {", `  name: ${quoteConf(g.name)}`, `  host: ${host}`, `  port: ${port("gateway.port", g.port)}`);
    if (g.advertise !== undefined) lines.push(`  advertise: ${quoteConf(g.advertise)}`);
    if (g.gateways && g.gateways.length > 0) {
      lines.push("  gateways: [");
      for (const r of g.gateways) lines.push(`    { name: ${quoteConf(r.name)}, urls: ${list(r.urls)} }`);
      lines.push("  ]");
    }
    lines.push("}");
  }

  if (opts.jetstream) {
    const js = opts.jetstream;
    lines.push("", "jetstream {", `  store_dir: ${quoteConf(js.storeDir)}`);
    if (js.domain !== undefined) lines.push(`  domain: ${quoteConf(js.domain)}`);
    if (js.maxMemory !== undefined) lines.push(`  max_memory_store: ${size("jetstream.maxMemory", js.maxMemory)}`);
    if (js.maxFile !== undefined) lines.push(`  max_file_store: ${size("jetstream.maxFile", js.maxFile)}`);
    lines.push("}");
  }

  if (opts.accounts) {
    lines.push("", "accounts {");
    for (const [name, acct] of Object.entries(opts.accounts)) {
      const fields: string[] = [];
      if (acct.users && acct.users.length > 0) {
        const users = acct.users.map((u) => ("nkey" in u ? `{ nkey: ${quoteConf(u.nkey)} }` : `{ user: ${quoteConf(u.user)}, password: ${quoteConf(u.password)} }`));
        fields.push(`users: [${users.join(", ")}]`);
      }
      if (acct.jetstream) fields.push("jetstream: enabled");
      lines.push(`  ${quoteConf(name)}: ${fields.length > 0 ? `{ ${fields.join(", ")} }` : "{}"}`);
    }
    lines.push("}");
  }
  if (opts.systemAccount !== undefined) lines.push(`system_account: ${quoteConf(opts.systemAccount)}`);

  return lines.join("\n") + "\n";
}
