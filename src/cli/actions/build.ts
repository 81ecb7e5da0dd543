/** What `lattice build` does. */
import os from "node:os";
import { basename, dirname, extname, join } from "node:path";
import { ActorBuildError, buildActor, type BuildStep, type HttpHandler } from "../../actor/build.js";
import { CliError } from "../errors.js";
import { formatBytes, formatDuration } from "../output.js";

export interface BuildOpts {
  wit?: string;
  world?: string;
  out?: string;
  disable?: string;
  httpHandler?: HttpHandler;
  quiet?: boolean;
}

export async function build(source: string, opts: BuildOpts): Promise<void> {
  const out = opts.out ?? `${basename(source, extname(source))}.wasm`;
  const disableFeatures = opts.disable
    ?.split(",")
    .map((f) => f.trim())
    .filter((f) => f !== "");
  // Ctrl-C or a kill stops componentize-js and removes the build's temporary files.
  const abort = new AbortController();
  const cancel = (signal: NodeJS.Signals) => abort.abort(new CliError(`build of ${source} interrupted (${signal})`, 128 + (os.constants.signals[signal] ?? 0)));
  process.once("SIGINT", cancel);
  process.once("SIGTERM", cancel);
  const progress = process.stderr.isTTY && !opts.quiet ? new Progress(`building ${source}`) : undefined;
  try {
    const r = await buildActor({
      source,
      witDir: opts.wit ?? join(dirname(source), "wit"),
      ...(opts.world !== undefined ? { world: opts.world } : {}),
      out,
      ...(disableFeatures ? { disableFeatures } : {}),
      ...(opts.httpHandler ? { httpHandler: opts.httpHandler } : {}),
      signal: abort.signal,
      ...(progress ? { onStep: (step: BuildStep) => progress.step(STEPS[step]) } : {}),
    });
    progress?.done();
    if (!opts.quiet) {
      const http = r.http === "layer" ? ", HTTP handler layer: instances serve many requests" : r.http === "engine" ? ", engine fetch-event shim: one request per instance" : "";
      process.stdout.write(`built ${out} (${formatBytes(r.bytes.length)}, ${r.digest}${http}) in ${formatDuration(r.ms)}\n`);
    }
  } catch (e) {
    progress?.done();
    if (e instanceof ActorBuildError) throw new CliError(e.message);
    throw e;
  } finally {
    process.off("SIGINT", cancel);
    process.off("SIGTERM", cancel);
  }
}

const STEPS: Record<BuildStep, string> = {
  staging: "reading the sources",
  componentizing: "componentize-js: compiling and pre-initializing (10-20 s)",
  writing: "writing the component",
};

/** One line on a terminal's stderr, rewritten each second with the step and the time so far. */
class Progress {
  private readonly started = Date.now();
  private text = "";
  private readonly timer = setInterval(() => this.draw(), 1_000);

  constructor(private readonly what: string) {}

  step(text: string): void {
    this.text = text;
    this.draw();
  }

  /** Clear the line, so that what follows is printed on a clean one. */
  done(): void {
    clearInterval(this.timer);
    process.stderr.write("\r\x1b[2K");
  }

  private draw(): void {
    const elapsed = formatDuration(Math.floor((Date.now() - this.started) / 1_000) * 1_000);
    process.stderr.write(`\r\x1b[2K${this.what}: ${this.text} ${elapsed}`);
  }
}
