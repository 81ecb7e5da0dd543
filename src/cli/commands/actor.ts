/** `lattice start actor|provider`, `lattice scale actor`, `lattice stop actor|provider` (what they do: actions/actor.ts). */
import { Command, Option } from "commander";
import type { ActorOpts, StartOpts, StartProviderOpts } from "../actions/actor.js";
import { withLatticeOptions, withOutputOption, withTimeoutOption } from "../lattice-options.js";
import { collectConfig, collectLabel, parseCount } from "../parse.js";
import { BUILTIN_PROVIDERS } from "../../provider/node-launcher.js";
import { withStoreOptions } from "./artifacts.js";

function actorCommand(description: string): Command {
  return new Command("actor").description(description);
}

export function startCommand(): Command {
  const actor = actorCommand("start an actor from an artifact (NAME[:VERSION]) or a local .wasm file")
    .argument("<ref>", "artifact reference, or a path to a component file")
    .requiredOption("--id <id>", "the actor's id: what calls and links name")
    .addOption(new Option("--scale <n>", "number of instances, spread over the hosts that qualify").default(1).argParser(parseCount))
    .addOption(new Option("--host <host>", "only on this host: its id, or its name").conflicts("constraint"))
    .addOption(new Option("--constraint <key=value>", "only on hosts with this label (repeatable)").argParser(collectLabel))
    .addOption(new Option("--config <key=value>", "a config value for the actor (repeatable)").argParser(collectConfig))
    .action(async (ref: string, opts: StartOpts) => (await import("../actions/actor.js")).startActor(ref, opts));
  return new Command("start")
    .description("start something in the lattice")
    .addCommand(withStoreOptions(actor))
    .addCommand(withTimeoutOption(withOutputOption(withLatticeOptions(startProviderCommand()))));
}

function startProviderCommand(): Command {
  return new Command("provider")
    .description(`start a capability provider on one host: a built-in (${BUILTIN_PROVIDERS.join(", ")}) or a provider module (.js/.mjs) on that host`)
    .argument("<ref>", "built-in provider name, or the path of a provider module")
    .requiredOption("--id <id>", "the provider's id: what calls and links name")
    .addOption(new Option("--host <host>", "on this host: its id, or its name").conflicts("constraint"))
    .addOption(new Option("--constraint <key=value>", "on a host with this label (repeatable); the least loaded one").argParser(collectLabel))
    .addOption(new Option("--config <key=value>", "a start config value for the provider (repeatable)").argParser(collectConfig))
    .action(async (ref: string, opts: StartProviderOpts) => (await import("../actions/actor.js")).startProvider(ref, opts));
}

export function scaleCommand(): Command {
  const actor = actorCommand("set the total number of instances of a running actor")
    .argument("<id>", "actor id")
    .argument("<count>", "instances in total (0 stops it)", parseCount)
    .action(async (id: string, count: number, opts: ActorOpts) => (await import("../actions/actor.js")).scaleActor(id, count, opts));
  return new Command("scale").description("scale something in the lattice").addCommand(withTimeoutOption(withOutputOption(withLatticeOptions(actor))));
}

export function stopCommand(): Command {
  const actor = actorCommand("stop an actor on every host")
    .argument("<id>", "actor id")
    .action(async (id: string, opts: ActorOpts) => (await import("../actions/actor.js")).stopActor(id, opts));
  const provider = new Command("provider")
    .description("stop a provider on every host that runs it (it is not restarted)")
    .argument("<id>", "provider id")
    .action(async (id: string, opts: ActorOpts) => (await import("../actions/actor.js")).stopProvider(id, opts));
  return new Command("stop")
    .description("stop something in the lattice")
    .addCommand(withTimeoutOption(withOutputOption(withLatticeOptions(actor))))
    .addCommand(withTimeoutOption(withOutputOption(withLatticeOptions(provider))));
}
