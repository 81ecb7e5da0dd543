/**
 * A TCP proxy that misbehaves on purpose, placed between two NATS servers (a leaf and its hub) or
 * a client and its server: pass, cut (every connection closed, new ones refused), blackhole
 * (connections stay up, nothing gets through), delay and bandwidth limits. Loopback only.
 */
import { createServer, connect, type Server, type Socket } from "node:net";

export type FaultMode = "pass" | "cut" | "blackhole";

interface Pipe {
  client: Socket;
  upstream: Socket;
}

/** Per direction: chunks released in order, each no earlier than its delay and bandwidth allow. */
class Lane {
  private releaseAt = 0;

  constructor(private readonly proxy: FaultProxy) {}

  forward(chunk: Buffer, to: Socket): void {
    if (this.proxy.mode === "blackhole") return;
    const now = Date.now();
    const bps = this.proxy.bandwidthBytesPerSecond;
    const transfer = bps > 0 ? (chunk.length / bps) * 1000 : 0;
    this.releaseAt = Math.max(now + this.proxy.delayMs, this.releaseAt) + transfer;
    const wait = this.releaseAt - now;
    if (wait <= 0) to.write(chunk);
    else setTimeout(() => !to.destroyed && this.proxy.mode !== "blackhole" && to.write(chunk), wait);
  }
}

export class FaultProxy {
  mode: FaultMode = "pass";
  delayMs = 0;
  /** 0: unlimited. */
  bandwidthBytesPerSecond = 0;
  private readonly pipes = new Set<Pipe>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
    readonly target: { host: string; port: number },
  ) {}

  static async start(target: { host?: string; port: number }, listenPort = 0): Promise<FaultProxy> {
    const to = { host: target.host ?? "127.0.0.1", port: target.port };
    const holder: { proxy?: FaultProxy } = {};
    const server = createServer((client) => holder.proxy?.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(listenPort, "127.0.0.1", () => resolve());
    });
    const address = server.address();
    if (!address || typeof address === "string") throw new Error("proxy has no port");
    holder.proxy = new FaultProxy(server, address.port, to);
    return holder.proxy;
  }

  /** `nats://127.0.0.1:PORT`, or with another scheme (`nats-leaf`). */
  url(scheme = "nats"): string {
    return `${scheme}://127.0.0.1:${this.port}`;
  }

  /** Close every connection and refuse new ones until healed. */
  cut(): void {
    this.mode = "cut";
    for (const p of this.pipes) this.drop(p);
  }

  /** Keep connections up but let nothing through, either way. */
  blackhole(): void {
    this.mode = "blackhole";
  }

  heal(): void {
    this.mode = "pass";
  }

  get connections(): number {
    return this.pipes.size;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private accept(client: Socket): void {
    if (this.mode === "cut") {
      client.destroy();
      return;
    }
    const upstream = connect(this.target.port, this.target.host);
    const pipe: Pipe = { client, upstream };
    this.pipes.add(pipe);
    const up = new Lane(this);
    const down = new Lane(this);
    client.on("data", (d: Buffer) => up.forward(d, upstream));
    upstream.on("data", (d: Buffer) => down.forward(d, client));
    for (const s of [client, upstream]) {
      s.setNoDelay(true);
      s.on("error", () => this.drop(pipe));
      s.on("close", () => this.drop(pipe));
    }
  }

  private drop(p: Pipe): void {
    if (!this.pipes.delete(p)) return;
    p.client.destroy();
    p.upstream.destroy();
  }
}
