/**
 * Transpiles components for the page (browser-actor-runtime.ts sends the jobs), off its main
 * thread: jco's bindings generator is one synchronous call of seconds for a JavaScript actor, and
 * the page must keep heartbeating meanwhile. The same jco call as Node's (actor/jco-transpile.ts);
 * the generator's core modules are fetched from beside this bundle (scripts/build-web.mjs).
 */
import { answerJob, type TranspileJob } from "../actor/jco-transpile.js";

self.onmessage = (e: MessageEvent<TranspileJob>) => {
  void answerJob(e.data).then(({ answer, transfer }) => self.postMessage(answer, { transfer }));
};
