/** What `lattice security set|get` do. */
import type { InvocationSecurity } from "../../protocol/index.js";
import type { StoreOpts } from "../commands/artifacts.js";
import type { OutputOpts } from "../lattice-options.js";
import { formatAge, formatDuration, printJson } from "../output.js";
import { withState } from "./state.js";

export type SecuritySetOpts = StoreOpts & { verifyInvocations?: boolean; window?: number; trust?: string[] };

function print(s: InvocationSecurity, opts: OutputOpts): void {
  if (opts.output === "json") return printJson(s);
  const trusted = ["every live host of the lattice", ...s.trustedKeys].join("\n                    ");
  process.stdout.write(
    `verify invocations: ${s.verify ? "on" : "off"}\n` +
      `window:             ${formatDuration(s.windowMs)}\n` +
      `trusted signers:    ${trusted}\n` +
      `updated:            ${s.updatedAt === new Date(0).toISOString() ? "never set" : `${formatAge(s.updatedAt)} (${s.updatedAt})`}\n`,
  );
}

export async function securitySet(opts: SecuritySetOpts): Promise<void> {
  const setting = await withState(opts, async (s) => {
    const current = await s.getInvocationSecurity();
    return s.putInvocationSecurity({
      verify: opts.verifyInvocations ?? current.verify,
      windowMs: opts.window ?? current.windowMs,
      trustedKeys: opts.trust ?? current.trustedKeys,
    });
  });
  print(setting, opts);
}

export async function securityGet(opts: StoreOpts): Promise<void> {
  print(await withState(opts, (s) => s.getInvocationSecurity()), opts);
}
