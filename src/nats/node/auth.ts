/**
 * How a Node lattice member proves itself to NATS: a credentials file, an nkey seed file,
 * user and password, or a token, and TLS files. The same settings reach provider processes
 * through their environment (LATTICE_NATS_*, named in protocol/provider-process.ts), so a
 * provider connects as its host does.
 */
import { readFileSync } from "node:fs";
import { credsAuthenticator, nkeyAuthenticator, type ConnectionOptions } from "@nats-io/nats-core";
import { ErrorCode, LatticeError } from "../../protocol/index.js";
import { NATS_AUTH_ENV } from "../../protocol/provider-process.js";

export interface NatsAuth {
  /** A .creds file (JWT + nkey seed), as nsc makes them. */
  creds?: string;
  /** A file holding an nkey user seed (SU…). */
  nkey?: string;
  user?: string;
  password?: string;
  token?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
}

const ENV: Record<keyof NatsAuth, string> = NATS_AUTH_ENV;

/** The environment variable of each setting (what the CLI options default to, and what providers read). */
export const AUTH_ENV: Readonly<Record<keyof NatsAuth, string>> = ENV;

export function authFromEnv(env: NodeJS.ProcessEnv = process.env): NatsAuth {
  const out: NatsAuth = {};
  for (const [k, name] of Object.entries(ENV) as Array<[keyof NatsAuth, string]>) if (env[name]) out[k] = env[name];
  return out;
}

export function authToEnv(auth: NatsAuth): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, name] of Object.entries(ENV) as Array<[keyof NatsAuth, string]>) {
    const v = auth[k];
    if (v) out[name] = v;
  }
  return out;
}

function read(file: string, what: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(file));
  } catch (e) {
    throw new LatticeError(ErrorCode.BadRequest, `cannot read the ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { cause: e });
  }
}

/** Connection options for these settings (files are read now, so a missing one fails early). */
export function connectionAuth(auth: NatsAuth): Partial<ConnectionOptions> {
  const opts: Partial<ConnectionOptions> = {};
  if (auth.creds) opts.authenticator = credsAuthenticator(read(auth.creds, "credentials file"));
  else if (auth.nkey) opts.authenticator = nkeyAuthenticator(new TextEncoder().encode(new TextDecoder().decode(read(auth.nkey, "nkey seed file")).trim()));
  if (auth.user) {
    opts.user = auth.user;
    opts.pass = auth.password ?? "";
  }
  if (auth.token) opts.token = auth.token;
  if (auth.tlsCa || auth.tlsCert || auth.tlsKey) {
    opts.tls = { ...(auth.tlsCa ? { caFile: auth.tlsCa } : {}), ...(auth.tlsCert ? { certFile: auth.tlsCert } : {}), ...(auth.tlsKey ? { keyFile: auth.tlsKey } : {}) };
  }
  return opts;
}
