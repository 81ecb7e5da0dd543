/**
 * Parsers for CLI argument values. Each throws InvalidArgumentError with a message a user can act on.
 * Part of the command tree: the protocol's checks come from its schema-free modules.
 */
import { InvalidArgumentError } from "commander";
import { parseDuration as parseProtocolDuration } from "../protocol/durations.js";
import { isLatticeError } from "../protocol/errors.js";
import { assertIssuerKey, assertLabel } from "../protocol/names.js";

/** `500ms`, `1s`, `1.5s`, `2m`, `1h`; a bare number is milliseconds. */
export function parseDuration(value: string): number {
  try {
    return parseProtocolDuration(value);
  } catch {
    throw new InvalidArgumentError(`expected a duration like 500ms, 1s or 2m (at least 1ms), got ${JSON.stringify(value)}`);
  }
}

export function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new InvalidArgumentError(`expected a TCP port (0-65535), got ${JSON.stringify(value)}`);
  return n;
}

export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive whole number, got ${JSON.stringify(value)}`);
  return n;
}

/** Bytes: `268435456`, `512k`, `256m`, `1g` (binary units; a trailing `b` or `ib` is allowed). */
export function parseMemorySize(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg])?(?:i?b)?$/i.exec(value.trim());
  const n = m ? Math.round(Number(m[1]) * 1024 ** ({ k: 1, m: 2, g: 3 }[(m[2] ?? "").toLowerCase() as "k"] ?? 0)) : NaN;
  if (!(n >= 1024 * 1024)) throw new InvalidArgumentError(`expected a memory size like 256m or 1g (at least 1m), got ${JSON.stringify(value)}`);
  return n;
}

/** A whole number ≥ 0 (instance counts). */
export function parseCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 1000) throw new InvalidArgumentError(`expected a whole number from 0 to 1000, got ${JSON.stringify(value)}`);
  return n;
}

/** Collects repeated `--label k=v` into an object. */
export function collectLabel(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = value.indexOf("=");
  if (eq <= 0) throw new InvalidArgumentError(`expected a label as key=value, got ${JSON.stringify(value)}`);
  const key = value.slice(0, eq);
  const v = value.slice(eq + 1);
  try {
    assertLabel(key, v);
  } catch (e) {
    throw new InvalidArgumentError(isLatticeError(e) ? e.message : String(e));
  }
  return { ...previous, [key]: v };
}

/** Collects repeated `key=value` config entries (the value may hold any characters, '=' too). */
export function collectConfig(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = value.indexOf("=");
  if (eq <= 0) throw new InvalidArgumentError(`expected key=value, got ${JSON.stringify(value)}`);
  const key = value.slice(0, eq);
  if (key.length > 256) throw new InvalidArgumentError(`config key ${JSON.stringify(key.slice(0, 40))}… is longer than 256 characters`);
  return { ...previous, [key]: value.slice(eq + 1) };
}

/** A comma-separated list of issuer public keys (`A…` or `O…`), at least one. */
export function parseIssuers(value: string): string[] {
  const keys = value.split(",").map((k) => k.trim()).filter((k) => k.length > 0);
  if (keys.length === 0) throw new InvalidArgumentError("expected one or more issuer public keys (A… or O…), comma-separated");
  try {
    for (const k of keys) assertIssuerKey(k);
  } catch (e) {
    throw new InvalidArgumentError(isLatticeError(e) ? e.message : String(e));
  }
  return keys;
}

const REGION_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** A region's name: its NATS cluster's and gateway's (letters, digits, `-`, `_`). */
export function parseRegion(value: string): string {
  if (!REGION_NAME.test(value)) throw new InvalidArgumentError(`expected a region name of letters, digits, - and _ (at most 64), got ${JSON.stringify(value)}`);
  return value;
}

/** Collects repeated `--gateway NAME=URL[,URL…]` (another region's gateway URLs) by region name. */
export function collectGateway(value: string, previous: Record<string, string[]> = {}): Record<string, string[]> {
  const eq = value.indexOf("=");
  const name = value.slice(0, eq);
  const urls = value.slice(eq + 1).split(",").map((u) => u.trim()).filter((u) => u !== "");
  if (eq < 1 || !REGION_NAME.test(name) || urls.length === 0) {
    throw new InvalidArgumentError(`expected REGION=URL[,URL…], the gateway of another region (east=nats://10.0.0.1:7222), got ${JSON.stringify(value)}`);
  }
  for (const u of urls) {
    let url: URL | undefined;
    try {
      url = new URL(u);
    } catch {
      url = undefined;
    }
    if (!url || url.protocol !== "nats:" || !url.port) throw new InvalidArgumentError(`expected a gateway URL like nats://10.0.0.1:7222 for region ${name}, got ${JSON.stringify(u)}`);
  }
  return { ...previous, [name]: [...(previous[name] ?? []), ...urls] };
}
