/**
 * `lattice host --metrics-port N`: an HTTP listener serving `GET /metrics`, the host's call
 * metrics in the Prometheus text format, read from its inventory at each scrape. Node only
 * (node:http): the browser host has no such listener.
 */
import { createServer, type Server } from "node:http";
import type { HostInventory } from "../protocol/index.js";
import { CliError } from "./errors.js";
import { metricsRows, prometheusText } from "./metrics-text.js";

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export interface MetricsEndpoint {
  /** The port it listens on (the one chosen when asked for 0). */
  readonly port: number;
  close(): Promise<void>;
}

/** Listen on `port` (all interfaces unless `hostname`); `inventory` is read at every scrape. */
export async function serveMetrics(port: number, inventory: () => HostInventory, hostname?: string): Promise<MetricsEndpoint> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found: the metrics are at /metrics\n");
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain" }).end("only GET /metrics\n");
      return;
    }
    const body = prometheusText(metricsRows([inventory()]));
    res.writeHead(200, { "content-type": PROMETHEUS_CONTENT_TYPE });
    res.end(req.method === "HEAD" ? undefined : body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(new CliError(`cannot serve metrics on port ${port}: ${e.code === "EADDRINUSE" ? "the port is in use" : (e.code ?? e.message)}`)),
    );
    server.listen(port, hostname, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // keep-alive scrapers would hold close() open
      }),
  };
}
