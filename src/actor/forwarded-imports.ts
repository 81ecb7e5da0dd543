/**
 * Stand-ins for the interfaces an actor imports that its worker does not serve: every function
 * (and every method of every resource) becomes a synchronous call to the host thread, which
 * routes it over the lattice to the linked target. Resources cross as `{ $resource, handle }`:
 * the target owns the resource, the guest holds an object that only carries its handle.
 */
import { isResourceRef, type ResourceRef } from "../protocol/invocation.js";

/** Calls the host: `fn` is a function name, or `resource/method` for a resource's method. */
export type HostCaller = (iface: string, fn: string, args: unknown[]) => unknown;

const HANDLE = Symbol("lattice.resource");
const NOT_METHODS = new Set(["then", "toJSON"]);

interface Remote {
  [HANDLE]: ResourceRef;
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c, i: number) => (i === 0 ? c.toLowerCase() : `-${c.toLowerCase()}`));
}

export class ForwardedImports {
  /** Resource classes by resource name, shared by all interfaces (a resource may be used by another). */
  private readonly classes = new Map<string, new (ref: ResourceRef) => Remote>();

  constructor(private readonly call: HostCaller) {}

  /** The import object of one interface. */
  interface(iface: string): Record<string, unknown> {
    return new Proxy(
      {},
      {
        get: (_t, prop) => {
          if (typeof prop !== "string") return undefined;
          // jco asks for resources by their class name (`Bucket`) and for functions in camelCase.
          if (/^[A-Z]/.test(prop)) return this.resourceClass(iface, kebab(prop));
          return (...args: unknown[]) => this.fromWire(iface, this.call(iface, kebab(prop), this.toWire(args) as unknown[]));
        },
      },
    );
  }

  private resourceClass(iface: string, name: string): new (ref: ResourceRef) => Remote {
    const existing = this.classes.get(name);
    if (existing) return existing;
    const forward = (method: string, self: unknown, args: unknown[]) =>
      this.fromWire(iface, this.call(iface, `${name}/${kebab(method)}`, this.toWire([self, ...args]) as unknown[]));
    // Methods are looked up on the prototype by name: a proxy there answers any of them, except
    // what any JS object is asked for: `then` (jco asks every import's result whether it is a
    // promise), `toJSON`, and Object's own methods (`valueOf`, `toString`… which the engine calls
    // when it compares or prints a value), which must not become calls across the lattice.
    const methods = new Proxy(
      {},
      {
        get: (_t, method) => {
          if (typeof method !== "string" || NOT_METHODS.has(method)) return undefined;
          if (method in Object.prototype) return (Object.prototype as unknown as Record<string, unknown>)[method];
          return function (this: unknown, ...args: unknown[]) {
            return forward(method, this, args);
          };
        },
      },
    );
    function Resource(this: Remote, ref: ResourceRef) {
      this[HANDLE] = ref;
    }
    Resource.prototype = methods;
    const cls = Resource as unknown as new (ref: ResourceRef) => Remote;
    this.classes.set(name, cls);
    return cls;
  }

  private toWire(v: unknown): unknown {
    if (typeof v !== "object" || v === null || v instanceof Uint8Array) return v;
    if (HANDLE in v) return (v as Remote)[HANDLE];
    if (Array.isArray(v)) return v.map((x) => this.toWire(x));
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = this.toWire(x);
    return out;
  }

  /** A result of a call on `iface`: resources in it belong to that interface unless known already. */
  private fromWire(iface: string, v: unknown): unknown {
    if (typeof v !== "object" || v === null || v instanceof Uint8Array) return v;
    if (isResourceRef(v)) return new (this.resourceClass(iface, v.$resource))(v);
    if (Array.isArray(v)) return v.map((x) => this.fromWire(iface, x));
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = this.fromWire(iface, x);
    return out;
  }
}
