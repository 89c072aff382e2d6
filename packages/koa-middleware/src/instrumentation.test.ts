// Beside the OpenTelemetry http and Koa instrumentations: the guard's event goes on the HTTP server
// span, http.route reaches the instrumentation's span and duration metric, and nothing is doubled.
import { context, metrics, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { KoaInstrumentation, KoaLayerType } from '@opentelemetry/instrumentation-koa';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  type MetricData,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { koaResilience } from './koaResilience.js';
import { KOA_MAJORS, loadRouter, quietApp, sleep, uniqueName, useServers } from './testSupport.js';

// Instrumentations patch modules when they are required: enable them before Koa is loaded.
const spanExporter = new InMemorySpanExporter();
const tracerProvider = new NodeTracerProvider({
  spanProcessors: [new SimpleSpanProcessor(spanExporter)],
});
const contextManager = new AsyncLocalStorageContextManager().enable();
context.setGlobalContextManager(contextManager);
trace.setGlobalTracerProvider(tracerProvider);
const reader = new PeriodicExportingMetricReader({
  exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
  exportIntervalMillis: 3_600_000,
});
const meterProvider = new MeterProvider({ readers: [reader] });
metrics.setGlobalMeterProvider(meterProvider);
const httpInstrumentation = new HttpInstrumentation();
const koaInstrumentation = new KoaInstrumentation();
registerInstrumentations({
  instrumentations: [httpInstrumentation, koaInstrumentation],
  tracerProvider,
  meterProvider,
});
const Router = loadRouter();

afterAll(async () => {
  httpInstrumentation.disable();
  koaInstrumentation.disable();
  await tracerProvider.shutdown();
  await meterProvider.shutdown();
});

/** Every metric of every scope, by scope name. */
async function collect(): Promise<Array<{ scope: string; metric: MetricData }>> {
  const { resourceMetrics } = await reader.collect();
  return resourceMetrics.scopeMetrics.flatMap((scope) =>
    scope.metrics.map((metric) => ({ scope: scope.scope.name, metric })),
  );
}

/** Data points of `http.server.request.duration` for `route`, by scope: [scope, attributes, count]. */
async function durationSeries(route: string) {
  return (await collect())
    .filter(({ metric }) => metric.descriptor.name === 'http.server.request.duration')
    .flatMap(({ scope, metric }) =>
      metric.dataPoints
        .filter(
          (p) => p.attributes['http.route'] === route || p.attributes['http.route'] === undefined,
        )
        .map((p) => [scope, p.attributes, (p.value as { count: number }).count]),
    );
}

/** The finished spans once the server span of the last request ended. */
async function spansAfterResponse(): Promise<ReadableSpan[]> {
  for (let i = 0; i < 50 && !spanExporter.getFinishedSpans().some(isServer); i++) await sleep(5);
  return spanExporter.getFinishedSpans();
}
const isServer = (span: ReadableSpan) => span.kind === SpanKind.SERVER;
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

describe.each(KOA_MAJORS)(
  'beside the http and Koa instrumentations, Koa $major',
  ({ major, load }) => {
    const Koa = load();
    const listen = useServers();
    beforeEach(() => spanExporter.reset());
    afterEach(() => {
      // Some tests switch an instrumentation off for the apps they create.
      koaInstrumentation.setConfig({});
      httpInstrumentation.enable();
    });
    // disable() would unpatch only the Koa copy loaded last; ignoring every layer works for both.
    const koaInstrumentationOff = () =>
      koaInstrumentation.setConfig({
        ignoreLayersType: [KoaLayerType.MIDDLEWARE, KoaLayerType.ROUTER],
      });

    it('nests under the server span, creates no span of its own, and leaves one duration series with http.route', async () => {
      const template = `/v${major}/orders/:id`;
      const resilience = koaResilience({ name: uniqueName() });
      const { app } = quietApp(Koa);
      const router = new Router();
      router.get(template, resilience.route({ timeoutMs: 1_000 }), (ctx) => {
        ctx.body = 'order';
      });
      app.use(resilience.middleware()).use(router.routes());
      const url = await listen(app);
      expect(await (await fetch(`${url}/v${major}/orders/7`)).text()).toBe('order');

      const spans = await spansAfterResponse();
      const server = spans.find(isServer);
      expect(server?.instrumentationScope.name).toBe('@opentelemetry/instrumentation-http');
      expect(server?.name).toBe(`GET ${template}`);
      expect(server?.attributes['http.route']).toBe(template);
      expect(server?.events).toEqual([]);
      const koaSpans = spans.filter(
        (s) => s.instrumentationScope.name === '@opentelemetry/instrumentation-koa',
      );
      const ownMiddleware = koaSpans.find((s) => s.name === 'middleware - resilienceMiddleware');
      expect(parentOf(ownMiddleware as ReadableSpan)).toBe(server?.spanContext().spanId);
      const routed = koaSpans.filter((s) => s.attributes['koa.type'] === 'router');
      expect(routed.length).toBeGreaterThan(0);
      for (const span of routed) {
        expect(span.spanContext().traceId).toBe(server?.spanContext().traceId);
        expect(span.attributes['http.route']).toBe(template);
      }
      expect(spans.filter((s) => s.instrumentationScope.name === 'otel-resilience')).toEqual([]);
      expect(spans.filter(isServer)).toHaveLength(1);

      expect(await durationSeries(template)).toEqual([
        [
          '@opentelemetry/instrumentation-http',
          {
            'http.request.method': 'GET',
            'url.scheme': 'http',
            'network.protocol.version': '1.1',
            'http.route': template,
            'http.response.status_code': 200,
          },
          1,
        ],
      ]);
    });

    it('adds the rejection event to the server span (not to its own middleware span), with the route', async () => {
      const template = `/v${major}/slow/:id`;
      const resilience = koaResilience({ name: uniqueName(), timeoutMs: 30 });
      const { app } = quietApp(Koa);
      const router = new Router();
      router.get(template, () => sleep(80));
      app.use(resilience.middleware()).use(router.routes());
      const url = await listen(app);
      expect((await fetch(`${url}/v${major}/slow/1`)).status).toBe(503);
      await sleep(70);

      const spans = await spansAfterResponse();
      const server = spans.find(isServer);
      expect(server?.attributes['http.response.status_code']).toBe(503);
      expect(server?.events.map((e) => [e.name, e.attributes])).toEqual([
        [
          'resilience.http.server.rejection',
          { 'resilience.rejection.reason': 'timeout', 'http.route': template },
        ],
      ]);
      const withEvents = spans.filter((s) => s.events.length > 0);
      expect(withEvents).toEqual([server]);
      expect(await durationSeries(template)).toEqual([
        [
          '@opentelemetry/instrumentation-http',
          expect.objectContaining({
            'http.route': template,
            'http.response.status_code': 503,
            'error.type': '503',
          }),
          1,
        ],
      ]);
    });

    it('gives the http instrumentation http.route itself when the Koa instrumentation is off', async () => {
      koaInstrumentationOff();
      const template = `/v${major}/plain/:id`;
      const resilience = koaResilience({ name: uniqueName() });
      const { app } = quietApp(Koa);
      const router = new Router();
      router.get(template, (ctx) => {
        ctx.body = 'plain';
      });
      app.use(resilience.middleware()).use(router.routes());
      const url = await listen(app);
      expect(await (await fetch(`${url}/v${major}/plain/1`)).text()).toBe('plain');

      const spans = await spansAfterResponse();
      expect(spans.map((s) => s.instrumentationScope.name)).toEqual([
        '@opentelemetry/instrumentation-http',
      ]);
      expect(spans[0]?.name).toBe(`GET ${template}`);
      expect(spans[0]?.attributes['http.route']).toBe(template);
      expect(
        (await durationSeries(template)).map(([scope, attributes]) => [
          scope,
          (attributes as Record<string, unknown>)['http.route'],
        ]),
      ).toEqual([['@opentelemetry/instrumentation-http', template]]);
    });

    it('emits http.server.request.duration itself only with serverMetrics, for apps without the http instrumentation', async () => {
      httpInstrumentation.disable();
      koaInstrumentationOff();
      const template = `/v${major}/measured/:id`;
      const resilience = koaResilience({ name: uniqueName(), serverMetrics: true });
      const { app } = quietApp(Koa);
      const router = new Router();
      router.get(template, (ctx) => {
        ctx.status = 201;
        ctx.body = 'made';
      });
      app.use(resilience.middleware()).use(router.routes());
      const url = await listen(app);
      expect((await fetch(`${url}/v${major}/measured/9?user=alice`)).status).toBe(201);
      await sleep(10);
      expect(await durationSeries(template)).toEqual([
        [
          'otel-resilience',
          {
            'http.request.method': 'GET',
            'http.route': template,
            'http.response.status_code': 201,
            'url.scheme': 'http',
          },
          1,
        ],
      ]);
      expect(spanExporter.getFinishedSpans()).toEqual([]);
    });
  },
);
