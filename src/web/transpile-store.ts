/**
 * Transpiled components kept in the page's IndexedDB, by jco version and digest: a page that is
 * reloaded, or another tab of the origin, does not transpile again (seconds for a JavaScript
 * actor) what one transpiled before. The newest few are kept (a JavaScript actor's are ~11 MB).
 * A store that cannot be opened or written is no store: every failure reads as a miss.
 */
import type { Transpiled } from "../actor/jco-transpile.js";

/** jco's version, set by scripts/build-web.mjs: output of another jco is another entry. */
declare const LATTICE_JCO_VERSION: string;

const DB = "lattice-transpiled";
const STORE = "components";
const KEEP = 8;

interface Entry {
  key: string;
  /** When it was written (epoch ms): the oldest go first. */
  at: number;
  transpiled: Transpiled;
}

function done<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error("IndexedDB request failed"));
  });
}

function committed(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = tx.onabort = () => reject(tx.error ?? new Error("IndexedDB transaction failed"));
  });
}

export class TranspileStore {
  private db?: Promise<IDBDatabase | undefined>;

  async get(digest: string): Promise<Transpiled | undefined> {
    try {
      const db = await this.open();
      if (!db) return undefined;
      const entry = (await done(db.transaction(STORE).objectStore(STORE).get(keyOf(digest)))) as Entry | undefined;
      return entry?.transpiled;
    } catch {
      return undefined;
    }
  }

  async put(digest: string, transpiled: Transpiled): Promise<void> {
    try {
      const db = await this.open();
      if (!db) return;
      const tx = db.transaction(STORE, "readwrite");
      const store = tx.objectStore(STORE);
      store.put({ key: keyOf(digest), at: Date.now(), transpiled } satisfies Entry);
      // The oldest beyond KEEP go (keys only: the index's cursor reads no component).
      const keys = (await done(store.index("at").getAllKeys())) as string[];
      for (const old of keys.slice(0, Math.max(0, keys.length - KEEP))) store.delete(old);
      await committed(tx);
    } catch {
      // no store, no cache
    }
  }

  private open(): Promise<IDBDatabase | undefined> {
    this.db ??= (async () => {
      if (typeof indexedDB === "undefined") return undefined;
      const req = indexedDB.open(DB, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: "key" }).createIndex("at", "at");
      return done(req).catch(() => undefined);
    })();
    return this.db;
  }
}

function keyOf(digest: string): string {
  return `jco-${LATTICE_JCO_VERSION}/${digest}`;
}
