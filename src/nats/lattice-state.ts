/**
 * Lattice state (links, named config) in a JetStream KV bucket per lattice, `lattice_<L>_state`.
 * Writers go straight to the bucket; readers keep a watched local copy (`StateCache`) and go on
 * serving from it while the bucket is unreachable, catching up when it returns.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import type { KV, KvEntry } from "@nats-io/kv";
import type { Static, TSchema } from "@sinclair/typebox";
import {
  CONFIG_KEY_PREFIX,
  DEFAULT_SIGNATURE_WINDOW_MS,
  INVOCATION_SECURITY_KEY,
  InvocationSecurity,
  LINK_KEY_PREFIX,
  Link,
  NamedConfig,
  assertConfigName,
  assertLatticeName,
  assertLinkInterface,
  assertLinkName,
  assertTargetId,
  configKey,
  findLink,
  linkKey,
  validate, messageOf,
} from "../protocol/index.js";
import { within } from "../protocol/within.js";
import { KvBucket, decodeEntry as decodeKvEntry } from "./kv-bucket.js";

export interface StateOptions {
  /** JetStream domain of the hub holding the state (needed on leaf nodes). */
  domain?: string;
  timeoutMs?: number;
}

export function stateBucketName(lattice: string): string {
  return `lattice_${assertLatticeName(lattice)}_state`;
}

const encoder = new TextEncoder();

/** Read and write lattice state. Each call goes to the bucket (creating it on first use). */
export class LatticeState {
  private readonly kv: KvBucket;

  constructor(
    private readonly nc: NatsConnection,
    readonly lattice: string,
    opts: StateOptions = {},
  ) {
    this.kv = new KvBucket(nc, stateBucketName(lattice), { ...opts, config: { history: 5 }, what: "lattice state" });
  }

  /** Its connection was closed: it will never reach the bucket again. */
  get closed(): boolean {
    return this.nc.isClosed();
  }

  get bucket(): string {
    return this.kv.name;
  }

  /** The bucket, created if missing. A JetStream that is off or unreachable is `unavailable`. */
  open(): Promise<KV> {
    return this.kv.open();
  }

  async putLink(l: Omit<Link, "updatedAt">): Promise<Link> {
    assertTargetId(l.source);
    assertTargetId(l.target);
    assertLinkInterface(l.interface);
    assertLinkName(l.name);
    l.config.forEach(assertConfigName);
    const link = validate(Link, { ...l, updatedAt: new Date().toISOString() }, "link");
    await (await this.open()).put(linkKey(link.source, link.interface, link.name), encoder.encode(JSON.stringify(link)));
    return link;
  }

  /** Resolves false if there was no such link. */
  async deleteLink(source: string, iface: string, name: string): Promise<boolean> {
    return this.deleteKey(linkKey(assertTargetId(source), assertLinkInterface(iface), assertLinkName(name)));
  }

  async links(): Promise<Link[]> {
    return this.values(LINK_KEY_PREFIX, Link, "link");
  }

  async putConfig(name: string, values: Record<string, string>): Promise<NamedConfig> {
    const config = validate(NamedConfig, { name: assertConfigName(name), values, updatedAt: new Date().toISOString() }, "config");
    await (await this.open()).put(configKey(name), encoder.encode(JSON.stringify(config)));
    return config;
  }

  async getConfig(name: string): Promise<NamedConfig | undefined> {
    const e = await (await this.open()).get(configKey(assertConfigName(name)));
    return e && e.operation === "PUT" ? decodeEntry(e, NamedConfig, "config") : undefined;
  }

  /** Resolves false if there was no such config. */
  async deleteConfig(name: string): Promise<boolean> {
    return this.deleteKey(configKey(assertConfigName(name)));
  }

  async configs(): Promise<NamedConfig[]> {
    return this.values(CONFIG_KEY_PREFIX, NamedConfig, "config");
  }

  /** The lattice's invocation security setting; verification off when never set. */
  async getInvocationSecurity(): Promise<InvocationSecurity> {
    const e = await (await this.open()).get(INVOCATION_SECURITY_KEY);
    if (e && e.operation === "PUT") return decodeEntry(e, InvocationSecurity, "setting");
    return { verify: false, windowMs: DEFAULT_SIGNATURE_WINDOW_MS, trustedKeys: [], updatedAt: new Date(0).toISOString() };
  }

  async putInvocationSecurity(s: Omit<InvocationSecurity, "updatedAt">): Promise<InvocationSecurity> {
    const setting = validate(InvocationSecurity, { ...s, updatedAt: new Date().toISOString() }, "invocation security setting");
    await (await this.open()).put(INVOCATION_SECURITY_KEY, encoder.encode(JSON.stringify(setting)));
    return setting;
  }

  private async deleteKey(key: string): Promise<boolean> {
    const kv = await this.open();
    const had = await kv.get(key);
    if (!had || had.operation !== "PUT") return false;
    await kv.delete(key);
    return true;
  }

  private async values<T extends typeof Link | typeof NamedConfig>(prefix: string, schema: T, what: string) {
    const kv = await this.open();
    const out = [];
    for await (const key of await kv.keys(`${prefix}>`)) {
      const e = await kv.get(key);
      if (e && e.operation === "PUT") out.push(decodeEntry(e, schema, what));
    }
    return out;
  }
}

function decodeEntry<T extends TSchema>(e: KvEntry, schema: T, what: string): Static<T> {
  return decodeKvEntry(e, schema, what, "lattice state");
}

export type StateChange =
  | { kind: "link"; key: string; link?: Link }
  | { kind: "config"; name: string; config?: NamedConfig }
  | { kind: "security"; invocations?: InvocationSecurity };

/**
 * A live local copy of the lattice's links and config. It starts empty, fills from the bucket
 * and follows every change; if the bucket is unreachable it keeps what it has and keeps trying.
 */
export class StateCache {
  private readonly linkMap = new Map<string, Link>();
  private readonly configMap = new Map<string, NamedConfig>();
  private security?: InvocationSecurity;
  private readonly listeners = new Set<(c: StateChange) => void>();
  private stopped = false;
  private stopWatch?: () => void;
  private looping: Promise<void> = Promise.resolve();
  /** Ends the wait before the next try (stop). */
  private wake?: () => void;
  private readyResolve!: () => void;
  /** Resolves once the bucket's current contents are in (never, while it is unreachable). */
  readonly ready: Promise<void> = new Promise((r) => (this.readyResolve = () => ((this.loaded = true), r())));
  /** Whether `ready` has resolved. */
  loaded = false;
  /** Entries that did not match their schema: skipped, counted. */
  invalid = 0;

  constructor(
    private readonly state: LatticeState,
    private readonly onError: (message: string) => void = () => undefined,
    private readonly retryMs = 2_000,
  ) {}

  start(): this {
    this.looping = this.loop();
    return this;
  }

  /**
   * Stop following the bucket. Resolves once no watch is being made (or after `boundMs`, as a
   * JetStream that does not answer holds one until its request times out): close the connection
   * only then, as a JetStream consumer whose connection closes while it is being made keeps its
   * heartbeat monitor running for ever (nats.js creates the monitor before it subscribes), a
   * ClosedConnectionError every 30 s and a timer that keeps the process alive.
   */
  async stop(boundMs = 2_000): Promise<void> {
    this.stopped = true;
    this.stopWatch?.();
    this.wake?.();
    this.listeners.clear();
    await within(this.looping, boundMs);
  }

  links(): Link[] {
    return [...this.linkMap.values()];
  }

  findLink(source: string, iface: string, name?: string): Link | undefined {
    return findLink(this.linkMap.values(), source, iface, name);
  }

  /** The values of named configs merged in order; names not (yet) known contribute nothing. */
  resolveConfig(names: readonly string[]): Record<string, string> {
    return Object.assign({}, ...names.map((n) => this.configMap.get(n)?.values ?? {})) as Record<string, string>;
  }

  /** The invocation security setting as last seen; undefined (no verification) until one is set. */
  invocationSecurity(): InvocationSecurity | undefined {
    return this.security;
  }

  onChange(fn: (c: StateChange) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private async loop(): Promise<void> {
    // A closed connection never comes back: trying again would only keep the process alive.
    while (!this.stopped && !this.state.closed) {
      try {
        await this.watchOnce();
      } catch (e) {
        if (!this.state.closed) this.onError(messageOf(e));
      }
      if (!this.stopped && !this.state.closed) await new Promise<void>((r) => ((this.wake = r), setTimeout(r, this.retryMs).unref?.()));
    }
  }

  private async watchOnce(): Promise<void> {
    const kv = await this.state.open();
    const pending = (await kv.status()).values;
    if (pending === 0) this.readyResolve();
    const watch = await kv.watch({ key: ">" });
    this.stopWatch = () => watch.stop();
    if (this.stopped) watch.stop();
    for await (const e of watch) {
      this.apply(e);
      if (e.delta === 0) this.readyResolve();
    }
  }

  private apply(e: KvEntry): void {
    const deleted = e.operation !== "PUT";
    try {
      if (e.key.startsWith(LINK_KEY_PREFIX)) {
        if (deleted) this.linkMap.delete(e.key);
        else this.linkMap.set(e.key, decodeEntry(e, Link, "link"));
        this.emit({ kind: "link", key: e.key, link: this.linkMap.get(e.key) });
      } else if (e.key.startsWith(CONFIG_KEY_PREFIX)) {
        const name = e.key.slice(CONFIG_KEY_PREFIX.length);
        if (deleted) this.configMap.delete(name);
        else this.configMap.set(name, decodeEntry(e, NamedConfig, "config"));
        this.emit({ kind: "config", name, config: this.configMap.get(name) });
      } else if (e.key === INVOCATION_SECURITY_KEY) {
        this.security = deleted ? undefined : decodeEntry(e, InvocationSecurity, "setting");
        this.emit({ kind: "security", invocations: this.security });
      }
    } catch (err) {
      this.invalid++;
      this.onError(messageOf(err));
    }
  }

  private emit(c: StateChange): void {
    for (const fn of this.listeners) {
      try {
        fn(c);
      } catch {
        // a listener's failure is its own
      }
    }
  }
}
