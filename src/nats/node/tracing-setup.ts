/**
 * Switching tracing on in a Node process (a host, a provider) from the standard OpenTelemetry
 * environment variables. Tracing is on when OTEL_TRACES_EXPORTER names `otlp` or `console`, or,
 * with OTEL_TRACES_EXPORTER unset, when an OTLP endpoint is set (OTEL_EXPORTER_OTLP_ENDPOINT or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT); OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none keep it
 * off. Off, the OpenTelemetry SDK is never loaded: only this module's few lines run.
 *
 * On: the SDK's tracer provider with a batching span processor (OTEL_BSP_SCHEDULE_DELAY,
 * OTEL_BSP_EXPORT_TIMEOUT, OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BSP_MAX_EXPORT_BATCH_SIZE), the sampler
 * OTEL_TRACES_SAMPLER names (default parentbased_always_on: a caller's sampling decision is
 * kept), a resource from OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES over the process'
 * defaults, and the OTLP/HTTP exporter, which sends JSON and reads its endpoint, headers and
 * timeout from the OTEL_EXPORTER_OTLP_* variables itself.
 */
import type { Attributes } from "@opentelemetry/api";
import type * as TraceSdk from "@opentelemetry/sdk-trace";
import type { Sampler, SpanExporter, TracerProvider } from "@opentelemetry/sdk-trace";
import { ErrorCode, LatticeError } from "../../protocol/errors.js";
import { disableTracing, enableTracing } from "../tracing.js";

type Exporter = "otlp" | "console";
const EXPORTERS: readonly string[] = ["otlp", "console", "none"];

/** The exporters the environment asks for; none: tracing stays off. */
export function tracesExporters(env: NodeJS.ProcessEnv = process.env): Exporter[] {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return [];
  const named = env.OTEL_TRACES_EXPORTER?.trim();
  if (!named) return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT ? ["otlp"] : [];
  const list = named.split(",").map((s) => s.trim().toLowerCase()).filter(Boolean);
  const unknown = list.filter((e) => !EXPORTERS.includes(e));
  if (unknown.length > 0) {
    throw new LatticeError(ErrorCode.BadRequest, `OTEL_TRACES_EXPORTER=${named}: lattice can export traces with ${EXPORTERS.join(", ")}, not ${unknown.join(", ")}`);
  }
  return list.includes("none") ? [] : (list as Exporter[]);
}

/** What the running process says of itself on its spans' resource (service.name unless OTEL_SERVICE_NAME says otherwise). */
export interface TracedProcess {
  serviceName: string;
  attributes?: Attributes;
}

let provider: TracerProvider | undefined;

/**
 * Switch tracing on if the environment asks for it; whether it did. Bad settings (an exporter
 * or protocol lattice does not have, a malformed number) are an error, before anything starts.
 */
export async function startTracingFromEnv(who: TracedProcess, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const exporters = tracesExporters(env);
  if (exporters.length === 0 || provider) return provider !== undefined;
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || env.OTEL_EXPORTER_OTLP_PROTOCOL)?.trim();
  if (exporters.includes("otlp") && protocol && protocol !== "http/json") {
    throw new LatticeError(ErrorCode.BadRequest, `OTLP protocol ${protocol}: lattice sends traces as OTLP over HTTP with JSON (http/json) only; unset the protocol or set it to http/json`);
  }
  // Only those set: an option given as undefined would not fall back to its default.
  const batch = Object.fromEntries(
    Object.entries({
      scheduledDelayMillis: envInt(env, "OTEL_BSP_SCHEDULE_DELAY"),
      exportTimeoutMillis: envInt(env, "OTEL_BSP_EXPORT_TIMEOUT"),
      maxQueueSize: envInt(env, "OTEL_BSP_MAX_QUEUE_SIZE"),
      maxExportBatchSize: envInt(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"),
    }).filter(([, v]) => v !== undefined),
  );
  const [api, sdk, resources] = await Promise.all([import("@opentelemetry/api"), import("@opentelemetry/sdk-trace"), import("@opentelemetry/resources")]);
  const sampler = samplerOf(sdk, env);
  const spanExporters: SpanExporter[] = [];
  for (const e of exporters) {
    if (e === "console") spanExporters.push(new sdk.ConsoleSpanExporter());
    else spanExporters.push(new (await import("@opentelemetry/exporter-trace-otlp-http")).OTLPTraceExporter());
  }
  const resource = resources
    .defaultResource()
    .merge(resources.resourceFromAttributes({ "service.name": who.serviceName, ...who.attributes }))
    .merge(resources.detectResources({ detectors: [resources.envDetector] }));
  provider = new sdk.TracerProvider({
    resource,
    sampler,
    spanProcessors: spanExporters.map((exporter) => new sdk.BatchSpanProcessor({ exporter, ...batch })),
  });
  enableTracing(api, provider);
  return true;
}

/** Export what is still buffered and stop tracing: before the process exits. Nothing to do when off. */
export async function shutdownTracing(): Promise<void> {
  const p = provider;
  if (!p) return;
  provider = undefined;
  disableTracing();
  await p.shutdown().catch(() => undefined);
}

function envInt(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new LatticeError(ErrorCode.BadRequest, `${name}=${raw}: expected a whole number of milliseconds or spans`);
  return n;
}

/** The sampler OTEL_TRACES_SAMPLER names (with OTEL_TRACES_SAMPLER_ARG, a ratio, for the ratio ones). */
function samplerOf(sdk: typeof TraceSdk, env: NodeJS.ProcessEnv): Sampler {
  const name = env.OTEL_TRACES_SAMPLER?.trim().toLowerCase() || "parentbased_always_on";
  const argRaw = env.OTEL_TRACES_SAMPLER_ARG?.trim();
  const ratio = argRaw ? Number(argRaw) : 1;
  if (!(ratio >= 0 && ratio <= 1)) throw new LatticeError(ErrorCode.BadRequest, `OTEL_TRACES_SAMPLER_ARG=${argRaw}: expected a ratio from 0 to 1`);
  const roots: Record<string, () => Sampler> = {
    always_on: () => new sdk.AlwaysOnSampler(),
    always_off: () => new sdk.AlwaysOffSampler(),
    traceidratio: () => new sdk.TraceIdRatioBasedSampler(ratio),
  };
  const parentBased = name.startsWith("parentbased_");
  const root = roots[parentBased ? name.slice("parentbased_".length) : name];
  if (!root) throw new LatticeError(ErrorCode.BadRequest, `OTEL_TRACES_SAMPLER=${name}: expected one of ${Object.keys(roots).flatMap((r) => [r, `parentbased_${r}`]).join(", ")}`);
  return parentBased ? new sdk.ParentBasedSampler({ root: root() }) : root();
}
