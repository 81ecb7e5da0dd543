/** `lattice build SRC.(js|ts) --wit DIR --world W -o OUT.wasm`: make an actor component with componentize-js (what it does: actions/build.ts). */
import { Command, Option } from "commander";
import { ENGINE_FEATURES, HTTP_HANDLERS } from "../../actor/build.js";
import type { BuildOpts } from "../actions/build.js";

export function buildCommand(): Command {
  return new Command("build")
    .description("build an actor component from a JavaScript or TypeScript module and a WIT world (componentize-js)")
    .argument("<source>", "the actor's entry module (.js, .mjs, .ts or .mts)")
    .addOption(new Option("--wit <dir>", "WIT directory (with deps/) or .wit file (default: wit/ beside the source)"))
    .addOption(new Option("--world <name>", "the world the actor targets (default: the WIT package's only world)"))
    .addOption(new Option("-o, --out <file>", "where to write the component (default: <source name>.wasm here)"))
    .addOption(new Option("--disable <features>", `engine features to leave out, comma-separated: ${ENGINE_FEATURES.join(", ")}`))
    .addOption(
      new Option("--http-handler <how>", "an HTTP actor's fetch handling: layer (one instance serves many requests) or engine (the engine's fetch-event shim, one request per instance)")
        .choices(HTTP_HANDLERS)
        .default("layer"),
    )
    .addOption(new Option("-q, --quiet", "print nothing on success"))
    .addHelpText(
      "after",
      "\nExample:\n  lattice build examples/echo/echo.ts --wit examples/echo/wit --world echo-actor -o echo.wasm",
    )
    .action(async (source: string, opts: BuildOpts) => (await import("../actions/build.js")).build(source, opts));
}
