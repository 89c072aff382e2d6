/**
 * The OpenTelemetry SDK of an example service: metrics for Prometheus (the app serves the
 * exporter's exposition at `/metrics`), traces to the console or to an OTLP collector when
 * configured, and the http and knex instrumentations (plus the framework's, passed in).
 *
 * Call {@link startTelemetry} before the web framework and Knex are loaded — instrumentations
 * patch modules as they load — so the app module is imported dynamically afterwards:
 *
 *   const telemetry = startTelemetry({ serviceName: 'orders', instrumentations: [new ExpressInstrumentation()] });
 *   const { createApp } = await import('./app.js');
 *
 * Environment:
 * - `OTEL_SERVICE_NAME` replaces the service name given here (`service.name` on `target_info`);
 * - `OTEL_TRACES_CONSOLE=1` prints finished spans to stdout;
 * - `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) sends them over
 *   OTLP/HTTP (the exporter reads the other `OTEL_EXPORTER_OTLP_*` variables itself).
 * Without either, no span is recorded (the tracer provider samples nothing), which keeps the
 * demo's overhead low; the context manager is still installed, as the instrumentations need it
 * to hand the route template to `http.server.request.duration`.
 */
import { register } from 'node:module';
import { metrics } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { type Instrumentation, registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { KnexInstrumentation } from '@opentelemetry/instrumentation-knex';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import {
  AlwaysOffSampler,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  NodeTracerProvider,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

export interface TelemetryOptions {
  /** `service.name`, unless `OTEL_SERVICE_NAME` is set. */
  readonly serviceName: string;
  /** Instrumentations besides http and knex: the framework's (Express, Koa). */
  readonly instrumentations?: readonly Instrumentation[];
  /**
   * Request paths the http instrumentation leaves alone (prefix match): no span, no
   * `http.server.request.duration` point. Default: the Prometheus scrape, and the in-process
   * flaky upstream's `/prices/` and `/__control` (it stands for a remote service: its 503s must
   * not count as this service's).
   */
  readonly ignoreIncomingPaths?: readonly string[];
  /** Variables to read instead of `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
}

export type TraceDestination = 'console' | 'otlp' | 'none';

export interface Telemetry {
  /** The Prometheus exporter (registered as a metric reader); serve it at `/metrics`. */
  readonly exporter: PrometheusExporter;
  readonly meterProvider: MeterProvider;
  readonly tracerProvider: NodeTracerProvider;
  readonly serviceName: string;
  /** Where spans go. */
  readonly traces: readonly TraceDestination[];
  /** Flushes spans and stops the providers (once per process). */
  shutdown(): Promise<void>;
}

export const DEFAULT_IGNORED_PATHS: readonly string[] = ['/metrics', '/prices/', '/__control'];

let started: Telemetry | undefined;

/**
 * Starts the SDK and registers it globally. Instrumentations patch modules once per process, so
 * a second call returns the telemetry the first one started (its options are ignored).
 */
export function startTelemetry(options: TelemetryOptions): Telemetry {
  if (started !== undefined) return started;
  const env = options.env ?? process.env;
  const serviceName = env.OTEL_SERVICE_NAME?.trim() || options.serviceName;

  // ESM `import express from 'express'` is only visible to the framework instrumentations
  // through import-in-the-middle's loader hook (CommonJS `require` is hooked without it).
  registerEsmHook();

  const resource = defaultResource().merge(
    resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName }),
  );

  const traces: TraceDestination[] = [];
  const spanProcessors: SpanProcessor[] = [];
  if (env.OTEL_TRACES_CONSOLE === '1' || env.OTEL_TRACES_CONSOLE === 'true') {
    traces.push('console');
    spanProcessors.push(new BatchSpanProcessor(new ConsoleSpanExporter()));
  }
  if (
    (env.OTEL_EXPORTER_OTLP_ENDPOINT ?? '') !== '' ||
    (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? '') !== ''
  ) {
    traces.push('otlp');
    spanProcessors.push(new BatchSpanProcessor(new OTLPTraceExporter()));
  }
  if (traces.length === 0) traces.push('none');
  const tracerProvider = new NodeTracerProvider({
    resource,
    spanProcessors,
    ...(spanProcessors.length === 0 ? { sampler: new AlwaysOffSampler() } : {}),
  });
  tracerProvider.register(); // global tracer provider, AsyncLocalStorage context, W3C propagator

  // preventServerStart: the app serves the exposition on its own port at /metrics.
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const meterProvider = new MeterProvider({ resource, readers: [exporter] });
  metrics.setGlobalMeterProvider(meterProvider);

  const ignored = options.ignoreIncomingPaths ?? DEFAULT_IGNORED_PATHS;
  const unregister = registerInstrumentations({
    tracerProvider,
    meterProvider,
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req) => ignored.some((p) => (req.url ?? '').startsWith(p)),
      }),
      new KnexInstrumentation(),
      ...(options.instrumentations ?? []),
    ],
  });

  let stopping: Promise<void> | undefined;
  started = {
    exporter,
    meterProvider,
    tracerProvider,
    serviceName,
    traces,
    shutdown() {
      stopping ??= (async () => {
        unregister();
        await Promise.allSettled([tracerProvider.shutdown(), meterProvider.shutdown()]);
      })();
      return stopping;
    },
  };
  return started;
}

let hookRegistered = false;

function registerEsmHook(): void {
  if (hookRegistered || typeof register !== 'function') return;
  hookRegistered = true;
  try {
    register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);
  } catch {
    // Without the hook only CommonJS-loaded modules are instrumented: spans of the framework's
    // layers are missing, everything else (http, knex, metrics) works.
  }
}
