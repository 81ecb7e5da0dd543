/** What `lattice call` does. */
import { readFileSync } from "node:fs";
import { CallSigner } from "../../nats/signing/call-signing.js";
import { messageOf } from "../../protocol/index.js";
import { withClient } from "../connect.js";
import { CliError } from "../errors.js";
import type { LatticeOpts } from "../lattice-options.js";
import { printJson } from "../output.js";

export type CallOpts = LatticeOpts & { timeout: number; signingSeed?: string };

/** `acme:demo/echo.echo` → interface and function; versions hold dots, function names never do. */
export function splitFunction(spec: string): { iface: string; fn: string } {
  const dot = spec.lastIndexOf(".");
  if (dot < 0) return { iface: "", fn: spec };
  return { iface: spec.slice(0, dot), fn: spec.slice(dot + 1) };
}

/** ARGS_JSON inline, or `@FILE` to read it from a file (`@-`: standard input) when it is large. */
function readArgs(spec: string): string {
  if (!spec.startsWith("@")) return spec;
  const file = spec.slice(1);
  try {
    return readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (e) {
    throw new CliError(`cannot read the arguments from ${file === "-" ? "standard input" : file}: ${messageOf(e)}`);
  }
}

function parseArgs(json: string): unknown[] {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch (e) {
    throw new CliError(`ARGS_JSON is not valid JSON: ${messageOf(e)}`);
  }
  if (!Array.isArray(v)) throw new CliError(`ARGS_JSON must be a JSON array of the arguments, e.g. '["hi"]'`);
  return v;
}

/** The seed's key, or a CLI error that does not repeat the seed. */
function signerOf(seed: string | undefined): CallSigner | undefined {
  if (!seed) return undefined;
  try {
    return new CallSigner(seed);
  } catch (e) {
    throw new CliError(`--signing-seed: ${messageOf(e)}`);
  }
}

export async function call(target: string, spec: string, argsJson: string, opts: CallOpts): Promise<void> {
  const { iface, fn } = splitFunction(spec);
  const args = parseArgs(readArgs(argsJson));
  const signer = signerOf(opts.signingSeed);
  const result = await withClient(opts, (c) => c.call(target, iface, fn, args, { timeoutMs: opts.timeout, signer }));
  printJson(result);
}
