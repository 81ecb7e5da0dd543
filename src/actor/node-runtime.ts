/** The Node actor runtime: components compiled once per digest, instances in worker threads. */
import type { Logger } from "../protocol/logging.js";
import { nodeWorkers } from "./node-workers.js";
import { Transpiler } from "./transpiler.js";
import { WorkerActorRuntime } from "./worker-runtime.js";
import type { SupplyOptions } from "./worker-supply.js";

export interface NodeRuntimeOptions extends SupplyOptions {
  /** Where transpiled components are kept (transpiler.ts); false: nowhere, transpile every time. */
  transpileCache?: string | false;
}

export class NodeActorRuntime extends WorkerActorRuntime {
  constructor(log: Logger, opts: NodeRuntimeOptions = {}) {
    const { transpileCache, ...supply } = opts;
    super(log, nodeWorkers, new Transpiler(transpileCache), supply);
  }
}
