/**
 * Where a lattice page connects and as whom: `/config.json` as `lattice ui` serves it, then the
 * page's query (`?nats=ws://…&lattice=…`) over it, so a page can also be pointed by hand.
 */
import { credsAuthenticator, nkeyAuthenticator, type ConnectionOptions } from "@nats-io/nats-core";
import { DEFAULT_LATTICE } from "../host/index.js";
import { assertLatticeName, messageOf } from "../protocol/index.js";
import { PAGE_CONFIG_PATH, type PageAuth, type PageConfig } from "../protocol/page-config.js";

export type { PageAuth, PageConfig };

/** What `lattice ui` serves: any of it may be missing. */
type ServedConfig = Partial<PageConfig>;

/** The page's settings; throws a message for people when they make no sense. */
export async function pageConfig(location: Location): Promise<PageConfig> {
  let served: ServedConfig = {};
  try {
    const res = await fetch(PAGE_CONFIG_PATH, { cache: "no-store" });
    if (res.ok) served = (await res.json()) as ServedConfig;
  } catch (e) {
    // A page served by something else than `lattice ui` has only its query.
    console.warn(`no ${PAGE_CONFIG_PATH}: ${messageOf(e)}`);
  }
  const query = new URLSearchParams(location.search);
  const servers = query.get("nats")?.split(",").filter(Boolean) ?? served.servers ?? [];
  if (servers.length === 0) throw new Error("no NATS WebSocket server: open the page from `lattice ui`, or add ?nats=ws://HOST:PORT");
  for (const s of servers) if (!/^wss?:\/\//.test(s)) throw new Error(`${s} is not a WebSocket URL (ws://… or wss://…)`);
  return {
    servers,
    lattice: assertLatticeName(query.get("lattice") ?? served.lattice ?? DEFAULT_LATTICE),
    auth: served.auth ?? {},
  };
}

/** The connection options of a page's credentials. */
export function authOptions(auth: PageAuth): Partial<ConnectionOptions> {
  if (auth.creds) return { authenticator: credsAuthenticator(new TextEncoder().encode(auth.creds)) };
  if (auth.nkey) return { authenticator: nkeyAuthenticator(new TextEncoder().encode(auth.nkey.trim())) };
  if (auth.token) return { token: auth.token };
  if (auth.user) return { user: auth.user, pass: auth.password ?? "" };
  return {};
}

/** Why a page could not join, as it says so: refused credentials apart from a server it cannot reach. */
export function joinFailure(e: unknown): { state: "refused" | "failed"; text: string } {
  const message = messageOf(e);
  return /authori[sz]ation|authentication|permissions? violation/i.test(message)
    ? { state: "refused", text: `the lattice refused this page's credentials: ${message}` }
    : { state: "failed", text: message };
}
