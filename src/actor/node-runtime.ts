/** The Node actor runtime: components compiled once per digest, instances in worker threads. */
import type { ResourceLimits } from "node:worker_threads";
import type { Logger } from "../protocol/logging.js";
import type { CacheOptions } from "./component-cache.js";
import { nodeWorkerPlatform } from "./node-workers.js";
import { Transpiler } from "./transpiler.js";
import { WorkerActorRuntime, type CollectOptions } from "./worker-runtime.js";
import type { SupplyOptions } from "./worker-supply.js";

export interface NodeRuntimeOptions extends SupplyOptions, CacheOptions, CollectOptions {
  /** Where transpiled components are kept (transpiler.ts); false: nowhere, transpile every time. */
  transpileCache?: string | false;
  /** false: the jco thread stops once no transpile waits, instead of staying for the next (default true). */
  keepTranspiler?: boolean;
  /** V8 heap limits of each actor worker (a small young generation saves ~4 MB a worker). */
  workerLimits?: ResourceLimits;
  /** Start the WASI shim's I/O thread in a worker only when its instance first needs it (~10 MB a worker saved). */
  lazyShimThread?: boolean;
}

export class NodeActorRuntime extends WorkerActorRuntime {
  constructor(log: Logger, opts: NodeRuntimeOptions = {}) {
    const { transpileCache, keepTranspiler, workerLimits, lazyShimThread, maxCompiledBytes, collectGarbage, ...supply } = opts;
    const platform = nodeWorkerPlatform({ ...(workerLimits ? { resourceLimits: workerLimits } : {}), lazyShimThread });
    super(log, platform, new Transpiler(transpileCache, keepTranspiler), supply, { maxCompiledBytes }, { collectGarbage });
  }
}
