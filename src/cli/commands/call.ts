/** `lattice call TARGET INTERFACE.FUNCTION [ARGS_JSON]`: one invocation, result as JSON on stdout (what it does: actions/call.ts). */
import { Command, Option } from "commander";
import type { CallOpts } from "../actions/call.js";
import { DEFAULT_CALL_TIMEOUT_MS } from "../../protocol/durations.js";
import { withLatticeOptions, withTimeoutOption } from "../lattice-options.js";

export function callCommand(): Command {
  const cmd = new Command("call")
    .description("call a function of an actor and print its result as JSON (u64 as numbers, bytes as base64)")
    .argument("<target>", "actor id")
    .argument("<function>", "INTERFACE.FUNCTION (e.g. acme:demo/echo.echo), or a function the world exports")
    .argument("[args-json]", "the arguments as a JSON array, or @FILE to read them from a file (@- for stdin)", "[]")
    .addOption(new Option("--signing-seed <seed>", "nkey seed (S…) to sign the call with, for a lattice that verifies invocations").env("LATTICE_SIGNING_SEED"))
    .action(async (target: string, spec: string, argsJson: string, opts: CallOpts) => (await import("../actions/call.js")).call(target, spec, argsJson, opts));
  return withTimeoutOption(withLatticeOptions(cmd), DEFAULT_CALL_TIMEOUT_MS, "10s");
}
