// Picking a free TCP port on the loopback interface. Node-only.
import { createServer } from "node:net";
import { ErrorCode, LatticeError } from "../../protocol/index.js";

/** The NATS default port: never hand it out, so tests can't collide with a real local server. */
const NATS_DEFAULT_PORT = 4222;

// Ports handed out recently by this process. The kernel may give the same ephemeral port to two
// back-to-back probes (we close each probe before the caller binds it), so a server asking for
// client + cluster + leaf ports could otherwise get a duplicate.
const recent: number[] = [];
const RECENT_MAX = 64;

function probe(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen({ host: "127.0.0.1", port: 0, exclusive: true }, () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A TCP port that was free on 127.0.0.1 a moment ago (never 4222). Only for ports that must be
 * known before anything listens on them (a cluster's route ports, which every member is given up
 * front; HTTP listeners in tests): another process may take it before the caller binds it. A
 * launched nats-server picks its own ports instead (`port: -1`, see `startNatsServer`).
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await probe();
    if (port === 0 || port === NATS_DEFAULT_PORT || recent.includes(port)) continue;
    recent.push(port);
    if (recent.length > RECENT_MAX) recent.shift();
    return port;
  }
  throw new LatticeError(ErrorCode.Unavailable, "could not find a free TCP port on 127.0.0.1");
}
