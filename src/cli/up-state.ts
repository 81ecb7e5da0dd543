/**
 * What `lattice up` records so that `lattice down` (from any terminal) can stop it:
 * `<state dir>/<lattice>/up.json`, written once the lattice is ready, removed when it stops.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export interface UpRecord {
  lattice: string;
  /** The `lattice up` process: the host, and the parent of nats-server. */
  pid: number;
  /** The nats-server it started; absent when it joined an existing NATS. */
  natsPid?: number;
  /** Every nats-server of an embedded cluster (`--nats-cluster`), the first included. */
  natsPids?: number[];
  natsUrl: string;
  websocketUrl?: string;
  /** Where other sites connect as leaf nodes. */
  leafUrl?: string;
  /** The servers this site is a leaf node of. */
  leafRemote?: string[];
  /** The region (NATS cluster of a supercluster) this site is, with `--region`. */
  region?: string;
  /** Where other regions connect by gateway. */
  gatewayUrl?: string;
  /** The regions it joined (`--gateway`): their gateway URLs by name. */
  gateways?: Record<string, string[]>;
  hostId: string;
  hostName: string;
  logPath?: string;
  startedAt: string;
}

/** `$LATTICE_STATE_DIR`, else `$XDG_STATE_HOME/lattice`, else `~/.local/state/lattice`. */
export function defaultStateDir(): string {
  if (process.env.LATTICE_STATE_DIR) return process.env.LATTICE_STATE_DIR;
  const xdg = process.env.XDG_STATE_HOME || join(homedir(), ".local", "state");
  return join(xdg, "lattice");
}

export function latticeDir(stateDir: string, lattice: string): string {
  return join(stateDir, lattice);
}

function recordPath(stateDir: string, lattice: string): string {
  return join(latticeDir(stateDir, lattice), "up.json");
}

export function writeUpRecord(stateDir: string, rec: UpRecord): void {
  mkdirSync(latticeDir(stateDir, rec.lattice), { recursive: true });
  writeFileSync(recordPath(stateDir, rec.lattice), JSON.stringify(rec, null, 2) + "\n");
}

export function readUpRecord(stateDir: string, lattice: string): UpRecord | undefined {
  const p = recordPath(stateDir, lattice);
  if (!existsSync(p)) return undefined;
  let rec: Partial<UpRecord>;
  try {
    rec = JSON.parse(readFileSync(p, "utf8")) as Partial<UpRecord>;
  } catch {
    throw new Error(`${p} is not valid JSON: remove it if no lattice is running`);
  }
  if (typeof rec.pid !== "number" || typeof rec.natsUrl !== "string") throw new Error(`${p} is not a lattice up record: remove it if no lattice is running`);
  return rec as UpRecord;
}

/** Remove the record, but only if it is still the one written by `pid` (a newer `up` may own it). */
export function removeUpRecord(stateDir: string, lattice: string, pid: number): void {
  try {
    if (readUpRecord(stateDir, lattice)?.pid === pid) rmSync(recordPath(stateDir, lattice));
  } catch {
    // An unreadable record is left for the user, with the message readUpRecord gives.
  }
}
