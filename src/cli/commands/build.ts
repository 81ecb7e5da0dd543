/** `lattice build SRC.(js|ts) --wit DIR --world W -o OUT.wasm`: make an actor component with componentize-js. */
import { basename, dirname, extname, join } from "node:path";
import { Command, Option } from "commander";
import { ActorBuildError, ENGINE_FEATURES, HTTP_HANDLERS, buildActor, type HttpHandler } from "../../actor/build.js";
import { CliError } from "../errors.js";

interface BuildOpts {
  wit?: string;
  world?: string;
  out?: string;
  disable?: string;
  httpHandler?: HttpHandler;
  quiet?: boolean;
}

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
    .action(async (source: string, opts: BuildOpts) => {
      const out = opts.out ?? `${basename(source, extname(source))}.wasm`;
      const disableFeatures = opts.disable
        ?.split(",")
        .map((f) => f.trim())
        .filter((f) => f !== "");
      try {
        const r = await buildActor({
          source,
          witDir: opts.wit ?? join(dirname(source), "wit"),
          ...(opts.world !== undefined ? { world: opts.world } : {}),
          out,
          ...(disableFeatures ? { disableFeatures } : {}),
          ...(opts.httpHandler ? { httpHandler: opts.httpHandler } : {}),
        });
        if (!opts.quiet) {
          const mb = (r.bytes.length / 1024 / 1024).toFixed(1);
          const http = r.http === "layer" ? ", HTTP handler layer: instances serve many requests" : r.http === "engine" ? ", engine fetch-event shim: one request per instance" : "";
          process.stdout.write(`built ${out} (${mb} MB, ${r.digest}${http}) in ${(r.ms / 1000).toFixed(1)} s\n`);
        }
      } catch (e) {
        if (e instanceof ActorBuildError) throw new CliError(e.message);
        throw e;
      }
    });
}
