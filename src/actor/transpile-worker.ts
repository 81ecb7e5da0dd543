/**
 * A worker thread that transpiles components with jco (transpiler.ts sends the jobs): jco's
 * bindings generator is one synchronous call that takes seconds for a JavaScript actor, and on
 * the host's main thread it would stop heartbeats and every call for as long.
 */
import { parentPort } from "node:worker_threads";
import { answerJob, type TranspileJob } from "./jco-transpile.js";

export type { TranspileAnswer, TranspileJob } from "./jco-transpile.js";

const port = parentPort;
if (!port) throw new Error("transpile-worker must run in a worker thread");

port.on("message", (job: TranspileJob) => {
  void answerJob(job).then(({ answer, transfer }) => port.postMessage(answer, transfer));
});
