/**
 * Connection settings shared by every lattice client, whatever its transport (TCP in Node,
 * WebSocket in a browser). Pure: no I/O, so the host core can use it anywhere.
 */
import type { ConnectionOptions, NatsConnection } from "@nats-io/nats-core";

/** Opens a NATS connection. Node passes the TCP transport; a browser passes the WebSocket one. */
export type Connector = (opts: ConnectionOptions) => Promise<NatsConnection>;

/**
 * A long-lived lattice member never gives up on NATS: it retries every server of its list
 * forever, quickly, so a restarted server sees it again within a heartbeat or two.
 */
export const RESILIENT: Readonly<ConnectionOptions> = {
  maxReconnectAttempts: -1,
  reconnectTimeWait: 250,
  reconnectJitter: 100,
  pingInterval: 10_000,
  maxPingOut: 3,
  timeout: 5_000,
  // nats.js otherwise builds an Error (a stack trace) for every request up front, in case it
  // fails: a third of the CPU of a busy caller. Our errors say what failed without it.
  noAsyncTraces: true,
};

/** Split a comma-separated server list (`nats://a:4222,nats://b:4222`) into URLs. */
export function parseServers(urls: string | readonly string[]): string[] {
  const list = typeof urls === "string" ? urls.split(",") : [...urls];
  return list.map((u) => u.trim()).filter((u) => u.length > 0);
}

/** The first connection attempt failed: nobody answered at any of these servers. */
export class NatsUnreachableError extends Error {
  override readonly name = "NatsUnreachableError";

  constructor(
    readonly servers: string[],
    readonly reason: string,
  ) {
    super(`cannot reach NATS at ${servers.map(redactUrl).join(", ")}: ${reason}`);
  }
}

const USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)([^@/]*)@/i;

/** A server URL as it may be shown: `nats://user:***@host`, `nats://***@host` for a token. */
export function redactUrl(url: string): string {
  return url.replace(USERINFO, (_m, scheme: string, info: string) => {
    const colon = info.indexOf(":");
    return `${scheme}${colon >= 0 ? `${info.slice(0, colon)}:***` : "***"}@`;
  });
}

/**
 * nats.js ignores credentials in server URLs (`nats://user:password@host`, `nats://token@host`),
 * which the Go client and the nats CLI take: lift them into the options (settings given as
 * options win) and drop them from the URLs, so nothing downstream shows them.
 */
export function liftUrlCredentials(opts: ConnectionOptions): ConnectionOptions {
  const lifted: { user?: string; pass?: string; token?: string } = {};
  const servers = parseServers(opts.servers ?? []).map((url) => {
    const m = USERINFO.exec(url);
    if (!m) return url;
    const info = m[2]!;
    const colon = info.indexOf(":");
    if (colon >= 0) {
      lifted.user ??= decodeURIComponent(info.slice(0, colon));
      lifted.pass ??= decodeURIComponent(info.slice(colon + 1));
    } else if (info) {
      lifted.token ??= decodeURIComponent(info);
    }
    return url.slice(0, m[1]!.length) + url.slice(m[0].length);
  });
  if (!lifted.user && !lifted.token) return opts;
  const own = opts.user !== undefined || opts.token !== undefined || opts.authenticator !== undefined;
  return { ...(own ? {} : lifted), ...opts, servers };
}

/**
 * Wrap a connector so credentials in server URLs are used (and hidden), and a failed first
 * connect becomes a NatsUnreachableError naming the servers.
 */
export function withUnreachableError(connector: Connector): Connector {
  return async (opts) => {
    try {
      return await connector(liftUrlCredentials(opts));
    } catch (e) {
      const servers = parseServers(opts.servers ?? []);
      const reason = e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e);
      throw new NatsUnreachableError(servers, reason);
    }
  };
}
