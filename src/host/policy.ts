/**
 * The policy hook: before a host starts an actor or provider, routes an actor's import over a
 * link, or runs an incoming call, it asks a policy for allow or deny with a reason. The policy is
 * a NATS request-reply service (`subject`) or local rules (`rules`, from a JSON or YAML file).
 * Decisions are cached per question for a TTL, so a steady stream of calls costs a map lookup, not
 * a round trip; refusals are counted, logged at warn and announced as `policy_denied` events once
 * per decision made (not per cached use, or a refused caller in a loop would flood the lattice).
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { Type, type Static } from "@sinclair/typebox";
import { parse as parseYaml } from "yaml";
import { isNoResponders, isTimeout } from "../nats/request-errors.js";
import {
  ErrorCode,
  LatticeError,
  POLICY_ACTIONS,
  PolicyReply,
  decode,
  encode,
  isLatticeError,
  validate, messageOf,
  type PolicyDenied,
  type PolicyHost,
  type PolicyRequest,
} from "../protocol/index.js";
import type { Logger } from "../protocol/logging.js";
import { DEFAULT_POLICY_CACHE_TTL_MS, DEFAULT_POLICY_TIMEOUT_MS } from "./defaults.js";

export type PolicyFailMode = "open" | "closed";

export interface PolicyOptions {
  /** Ask the service answering on this NATS subject. */
  subject?: string;
  /** Or decide locally by these rules (see `parsePolicyRules`). */
  rules?: PolicyRules;
  /** When the service does not answer in time (or answers nonsense): allow (`open`) or deny (`closed`, the default). */
  fail?: PolicyFailMode;
  /** How long to wait for the service; default 1 s. */
  timeoutMs?: number;
  /** How long a decision is reused for the same question; default 10 s, 0 to ask every time. */
  cacheTtlMs?: number;
}

/** In defaults.ts, which the CLI loads without the host. */
export { DEFAULT_POLICY_TIMEOUT_MS, DEFAULT_POLICY_CACHE_TTL_MS };
/** A failure to get an answer is reused for at most this long, so a recovered service is asked again soon. */
const FAILURE_TTL_MS = 1_000;
const MAX_CACHED = 10_000;

/** A question without the asking host, which the gate adds. */
export type PolicyQuestion = Omit<PolicyRequest, "host">;

export interface PolicyDecision {
  allow: boolean;
  reason: string;
}

export interface PolicyStats {
  /** Decisions made (by the service or the rules), not counting cache hits. */
  decided: number;
  /** Questions answered from the cache (or by a request already under way for the same question). */
  cached: number;
  /** Every allowed and refused use, cached ones included. */
  allowed: number;
  denied: number;
  /** Questions the service did not answer (timeout, no responders, a malformed reply). */
  unanswered: number;
}

export interface PolicyGateDeps {
  nc: NatsConnection;
  host: PolicyHost;
  log: Logger;
  /** Announce a refusal (the `policy_denied` event; the host adds its id). */
  denied: (data: Omit<PolicyDenied, "hostId">) => void;
}

interface Cached {
  decision: PolicyDecision;
  until: number;
}

export class PolicyGate {
  readonly stats: PolicyStats = { decided: 0, cached: 0, allowed: 0, denied: 0, unanswered: 0 };
  private readonly cache = new Map<string, Cached>();
  /** Questions being asked now: concurrent identical ones share one request. */
  private readonly pending = new Map<string, Promise<PolicyDecision>>();
  private readonly fail: PolicyFailMode;
  private readonly timeoutMs: number;
  private readonly ttlMs: number;

  constructor(
    private readonly opts: PolicyOptions,
    private readonly d: PolicyGateDeps,
  ) {
    if (!opts.subject === !opts.rules) throw new LatticeError(ErrorCode.BadRequest, "a policy needs exactly one of a subject and rules");
    if (opts.subject !== undefined && !/^[^\s*>]+$/.test(opts.subject)) throw new LatticeError(ErrorCode.BadRequest, `invalid policy subject ${JSON.stringify(opts.subject)}: no spaces or wildcards`);
    this.fail = opts.fail ?? "closed";
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_POLICY_TIMEOUT_MS;
    this.ttlMs = opts.cacheTtlMs ?? DEFAULT_POLICY_CACHE_TTL_MS;
  }

  /**
   * Undefined when `q` is allowed, else the `forbidden` error whose message is `what()` and the
   * reason. Synchronous when the decision is cached (the per-call path).
   */
  check(q: PolicyQuestion, what: () => string): LatticeError | undefined | Promise<LatticeError | undefined> {
    const key = cacheKey(q);
    const hit = this.cache.get(key);
    if (hit && hit.until > Date.now()) {
      this.stats.cached++;
      return this.outcome(hit.decision, what);
    }
    let asking = this.pending.get(key);
    if (asking) this.stats.cached++;
    else {
      asking = this.decide(key, q).finally(() => this.pending.delete(key));
      this.pending.set(key, asking);
    }
    return asking.then((d) => this.outcome(d, what));
  }

  /** `check`, throwing the refusal. */
  async enforce(q: PolicyQuestion, what: () => string): Promise<void> {
    const refused = await this.check(q, what);
    if (refused) throw refused;
  }

  private outcome(d: PolicyDecision, what: () => string): LatticeError | undefined {
    if (d.allow) {
      this.stats.allowed++;
      return undefined;
    }
    this.stats.denied++;
    return new LatticeError(ErrorCode.Forbidden, `${what()} refused by policy: ${d.reason}`);
  }

  private async decide(key: string, q: PolicyQuestion): Promise<PolicyDecision> {
    let decision: PolicyDecision;
    let ttl = this.ttlMs;
    if (this.opts.rules) {
      decision = evaluateRules(this.opts.rules, { ...q, host: this.d.host });
    } else {
      const r = await this.ask({ ...q, host: this.d.host });
      decision = r.decision;
      ttl = r.ttlMs ?? ttl;
    }
    this.stats.decided++;
    const fields = strip(q);
    if (decision.allow) {
      this.d.log.debug("policy allowed", { ...fields, reason: decision.reason });
    } else {
      this.d.log.warn("policy denied", { ...fields, reason: decision.reason });
      this.d.denied({ ...strip(q), reason: decision.reason.slice(0, 1024) });
    }
    if (ttl > 0) this.remember(key, decision, ttl);
    return decision;
  }

  /** Ask the service; a missing, late or malformed answer is decided by the fail mode. */
  private async ask(req: PolicyRequest): Promise<{ decision: PolicyDecision; ttlMs?: number }> {
    const subject = this.opts.subject!;
    let problem: string;
    try {
      const msg = await this.d.nc.request(subject, encode(req), { timeout: this.timeoutMs });
      const reply = decode(PolicyReply, msg.data, "policy reply");
      return { decision: { allow: reply.allow, reason: reply.reason ?? (reply.allow ? "allowed" : "denied") }, ttlMs: reply.ttlMs };
    } catch (e) {
      if (isNoResponders(e)) problem = `no policy service answers on ${subject}`;
      else if (isTimeout(e)) problem = `the policy service on ${subject} did not answer within ${this.timeoutMs} ms`;
      else problem = `the policy service on ${subject} failed: ${isLatticeError(e) || messageOf(e)}`;
    }
    this.stats.unanswered++;
    const allow = this.fail === "open";
    this.d.log.warn(`policy unanswered; failing ${this.fail}`, { action: req.action, target: req.target, problem });
    return { decision: { allow, reason: `${problem} (policy fails ${this.fail})` }, ttlMs: Math.min(this.ttlMs, FAILURE_TTL_MS) };
  }

  private remember(key: string, decision: PolicyDecision, ttlMs: number): void {
    this.cache.delete(key);
    this.cache.set(key, { decision, until: Date.now() + ttlMs });
    // Insertion order is age order: the oldest go first.
    for (const k of this.cache.keys()) {
      if (this.cache.size <= MAX_CACHED) break;
      this.cache.delete(k);
    }
  }
}

/** Everything that makes two questions different (the host is always the same one). */
function cacheKey(q: PolicyQuestion): string {
  return [q.action, q.kind, q.source, q.target, q.ref, q.digest, q.interface, q.function, q.link, q.signer].join("\u0000");
}

/** What a `policy_denied` event says of the question: its set fields, without digest, claims or signer. */
function strip(q: PolicyQuestion): Omit<PolicyDenied, "hostId" | "reason"> {
  const { action, kind, source, target, ref, interface: iface, function: fn, link } = q;
  const out: Omit<PolicyDenied, "hostId" | "reason"> = { action };
  for (const [k, v] of Object.entries({ kind, source, target, ref, interface: iface, function: fn, link })) if (v !== undefined) Object.assign(out, { [k]: v });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Rule files

const Globs = Type.Union([Type.String({ maxLength: 1024 }), Type.Array(Type.String({ maxLength: 1024 }), { minItems: 1, maxItems: 256 })]);

/** The fields a rule may match, each against a glob or a list of globs (any of them). */
export const RULE_FIELDS = ["kind", "source", "target", "ref", "digest", "issuer", "name", "interface", "function", "link", "signer", "signed", "host", "hostName"] as const;
type RuleField = (typeof RULE_FIELDS)[number];

const RuleSchema = Type.Object(
  {
    effect: Type.Union([Type.Literal("allow"), Type.Literal("deny")]),
    action: Type.Optional(Type.Union([Type.Union(POLICY_ACTIONS.map((a) => Type.Literal(a))), Type.Array(Type.Union(POLICY_ACTIONS.map((a) => Type.Literal(a))), { minItems: 1 })])),
    reason: Type.Optional(Type.String({ maxLength: 1024 })),
    labels: Type.Optional(Type.Record(Type.String(), Globs)),
    ...Object.fromEntries(RULE_FIELDS.map((f) => [f, Type.Optional(Globs)])),
  },
  // A misspelt field must not silently match everything.
  { additionalProperties: false },
);

export const PolicyFile = Type.Object(
  {
    default: Type.Optional(Type.Union([Type.Literal("allow"), Type.Literal("deny")])),
    rules: Type.Array(RuleSchema, { maxItems: 10_000 }),
  },
  { additionalProperties: false },
);
export type PolicyFile = Static<typeof PolicyFile>;

interface CompiledRule {
  index: number;
  allow: boolean;
  reason?: string;
  actions?: readonly string[];
  fields: Array<[RuleField, RegExp[]]>;
  labels: Array<[string, RegExp[]]>;
}

export interface PolicyRules {
  source: string;
  rules: readonly CompiledRule[];
  defaultAllow: boolean;
}

/**
 * Rules from a JSON or YAML text: `{ default: allow|deny (deny if absent), rules: [{ effect,
 * action?, reason?, <field>?: glob | [globs], labels?: {key: glob} }] }`. Rules are tried in
 * order; the first whose every given field matches decides. `*` matches any characters, `?` one.
 */
export function parsePolicyRules(text: string, source = "policy"): PolicyRules {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new LatticeError(ErrorCode.BadRequest, `${source} is not valid YAML or JSON: ${messageOf(e)}`, { cause: e });
  }
  const file = validate(PolicyFile, raw, source);
  const rules = file.rules.map((r, index): CompiledRule => {
    const rule = r as Record<string, unknown> & { effect: "allow" | "deny"; reason?: string; action?: string | string[]; labels?: Record<string, string | string[]> };
    return {
      index,
      allow: rule.effect === "allow",
      reason: rule.reason,
      actions: rule.action === undefined ? undefined : ([] as string[]).concat(rule.action),
      fields: RULE_FIELDS.filter((f) => rule[f] !== undefined).map((f) => [f, globs(rule[f] as string | string[])]),
      labels: Object.entries(rule.labels ?? {}).map(([k, v]) => [k, globs(v)]),
    };
  });
  return { source, rules, defaultAllow: file.default === "allow" };
}

function globs(v: string | string[]): RegExp[] {
  return ([] as string[]).concat(v).map((g) => new RegExp(`^${g.replace(/[.+^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*").replaceAll("?", ".")}$`, "s"));
}

/** A question's facts as rule fields see them; a field the question lacks matches no rule naming it. */
function facts(q: PolicyRequest): Partial<Record<RuleField, string>> {
  return {
    kind: q.kind,
    source: q.source,
    target: q.target,
    ref: q.ref,
    digest: q.digest,
    issuer: q.claims?.issuer,
    name: q.claims?.name,
    interface: q.interface,
    function: q.function,
    link: q.link,
    signer: q.signer,
    signed: q.action === "invoke" ? String(q.signer !== undefined) : undefined,
    host: q.host.id,
    hostName: q.host.name,
  };
}

export function evaluateRules(p: PolicyRules, q: PolicyRequest): PolicyDecision {
  const f = facts(q);
  const hit = p.rules.find(
    (r) =>
      (!r.actions || r.actions.includes(q.action)) &&
      r.fields.every(([k, res]) => {
        const v = f[k];
        return v !== undefined && res.some((re) => re.test(v));
      }) &&
      r.labels.every(([k, res]) => {
        const v = q.host.labels[k];
        return v !== undefined && res.some((re) => re.test(v));
      }),
  );
  if (!hit) return { allow: p.defaultAllow, reason: p.defaultAllow ? `no rule of ${p.source} matches (default allow)` : `no rule of ${p.source} allows it (default deny)` };
  return { allow: hit.allow, reason: hit.reason ?? `rule ${hit.index + 1} of ${p.source} (${hit.allow ? "allow" : "deny"})` };
}
