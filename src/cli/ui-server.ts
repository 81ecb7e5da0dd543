/**
 * The HTTP server of `lattice ui`: the dashboard at `/`, the browser host page at `/host`, the
 * bundles of dist/web beside them, and `/config.json` telling the pages where the lattice is.
 * Every answer is cross-origin isolated (COOP + COEP): browser actors block on their host calls
 * over a SharedArrayBuffer, which a page may only make when isolated.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { PAGE_CONFIG_PATH, type PageConfig } from "../protocol/page-config.js";

/** dist/web, where scripts/build-web.mjs puts the bundles. */
export const WEB_ROOT = fileURLToPath(new URL("../../web/", import.meta.url));

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".wasm": "application/wasm",
  ".png": "image/png",
  ".svg": "image/svg+xml",
};

/** Paths that name a page rather than a file. */
const PAGES: Record<string, string> = { "/": "dashboard.html", "/host": "host.html" };

const HEADERS = {
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-embedder-policy": "require-corp",
  "x-content-type-options": "nosniff",
  "cache-control": "no-cache",
};

export interface UiServerOptions {
  port: number;
  /** Address to listen on. */
  bind: string;
  config: PageConfig;
  /** Default {@link WEB_ROOT}. */
  root?: string;
}

export interface UiServer {
  /** http://ADDRESS:PORT (the real port when 0 was asked for). */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startUiServer(opts: UiServerOptions): Promise<UiServer> {
  const root = opts.root ?? WEB_ROOT;
  const config = JSON.stringify(opts.config);
  const server = createServer((req, res) => {
    void answer(req, res, root, config).catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, "text/plain; charset=utf-8", `lattice ui: ${String(e)}\n`);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.bind, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : opts.port;
  const host = opts.bind.includes(":") ? `[${opts.bind}]` : opts.bind === "0.0.0.0" ? "127.0.0.1" : opts.bind;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, head = false): void {
  res.writeHead(status, { ...HEADERS, "content-type": type, "content-length": Buffer.byteLength(body) });
  res.end(head ? undefined : body);
}

async function answer(req: IncomingMessage, res: ServerResponse, root: string, config: string): Promise<void> {
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.setHeader("allow", "GET, HEAD");
    return send(res, 405, "text/plain; charset=utf-8", "only GET and HEAD\n");
  }
  const path = new URL(req.url ?? "/", "http://ui").pathname;
  if (path === PAGE_CONFIG_PATH) return send(res, 200, TYPES[".json"]!, config);
  const file = PAGES[path] ?? path.slice(1);
  const full = normalize(join(root, file));
  const type = TYPES[extname(full)];
  if (!full.startsWith(root.endsWith(sep) ? root : root + sep) || !type) return send(res, 404, "text/plain; charset=utf-8", `no ${path} here\n`);
  let body: Buffer;
  try {
    body = await readFile(full);
  } catch {
    return send(res, 404, "text/plain; charset=utf-8", `no ${path} here\n`);
  }
  send(res, 200, type, body, req.method === "HEAD");
}
