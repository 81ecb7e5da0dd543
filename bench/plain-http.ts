/**
 * The baseline of the http bench: a plain Node `http` server answering every request with the
 * same status, headers and body a lattice HTTP actor answered. Arguments: the port, then the
 * response as JSON (`{ status, headers: [[name, value]…], body }`). Prints "ready" once listening.
 */
import { createServer } from "node:http";

const [port, response] = process.argv.slice(2);
const r = JSON.parse(response ?? "{}") as { status: number; headers: Array<[string, string]>; body: string };
const body = Buffer.from(r.body);
const headers = r.headers.flat();
createServer((_req, res) => {
  res.writeHead(r.status, headers);
  res.end(body);
}).listen(Number(port), "127.0.0.1", () => process.stdout.write("ready\n"));
