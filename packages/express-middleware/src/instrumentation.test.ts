/*
 * The middleware beside the standard instrumentations: the http and Express instrumentations are
 * registered before Express is loaded (they patch modules on require), and the spans and metrics
 * they produce are checked together with the middleware's.
 */
import { context, metrics, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { ExpressInstrumentation } from '@opentelemetry/instrumentation-express';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expressResilience } from './ExpressResilience.js';
import { closeServersAfterEach, EXPRESS_MAJORS, listen, sleep, uniqueName } from './testSupport.js';

const spanExporter = new InMemorySpanExporter();
const tracerProvider = new NodeTracerProvider({
  spanProcessors: [new SimpleSpanProcessor(spanExporter)],
});
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(tracerProvider);
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({
  exporter: metricExporter,
  exportIntervalMillis: 3_600_000,
});
const meterProvider = new MeterProvider({ readers: [reader] });
metrics.setGlobalMeterProvider(meterProvider);
const unregister = registerInstrumentations({
  instrumentations: [new HttpInstrumentation(), new ExpressInstrumentation()],
  tracerProvider,
  meterProvider,
});

afterAll(async () => {
  unregister();
  await tracerProvider.shutdown();
  await meterProvider.shutdown();
});

/** Every `http.server.request.duration` data point, with the scope that emitted it. */
async function serverDurations() {
  const { resourceMetrics } = await reader.collect();
  return resourceMetrics.scopeMetrics.flatMap((scope) =>
    scope.metrics
      .filter((m) => m.descriptor.name === 'http.server.request.duration')
      .flatMap((m) =>
        m.dataPoints.map((p) => ({
          scope: scope.scope.name,
          route: p.attributes['http.route'],
          status: p.attributes['http.response.status_code'],
          count: (p.value as { count: number }).count,
        })),
      ),
  );
}

const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

/** The Express instrumentation names route handler spans with the route on Express 4 only. */
const handlerSpanName = (major: string, route: string) =>
  major === 'Express 4' ? `request handler - ${route}` : 'request handler';

describe.each(EXPRESS_MAJORS)(
  'beside the http and Express instrumentations, on %s',
  (major, loadExpress) => {
    const express = loadExpress();
    closeServersAfterEach();
    beforeEach(() => spanExporter.reset());
    afterEach(() => spanExporter.reset());

    it('adds the rejection to the http server span, creates no span of its own, and nests under the instrumentation', async () => {
      const resilience = expressResilience({ name: uniqueName('instr'), timeoutMs: 30 });
      const app = express();
      app.use(resilience.middleware());
      app.get('/users/:id', () => {});
      const url = await listen(app);
      expect((await fetch(`${url}/users/42`)).status).toBe(503);
      await sleep(20);

      const spans = spanExporter.getFinishedSpans();
      const servers = spans.filter((s) => s.kind === SpanKind.SERVER);
      expect(servers).toHaveLength(1);
      const [server] = servers;
      // The instrumentations really ran: their server span and Express layer spans exist.
      expect(server?.instrumentationScope.name).toBe('@opentelemetry/instrumentation-http');
      expect(
        server?.attributes['http.response.status_code'] ?? server?.attributes['http.status_code'],
      ).toBe(503);
      expect(server?.attributes['http.route']).toBe('/users/:id');
      expect(server?.events.map((e) => [e.name, e.attributes])).toEqual([
        [
          'resilience.http.server.rejection',
          { 'resilience.rejection.reason': 'timeout', 'http.route': '/users/:id' },
        ],
      ]);
      const express_ = spans.filter(
        (s) => s.instrumentationScope.name === '@opentelemetry/instrumentation-express',
      );
      expect(express_.map((s) => s.name)).toContain('middleware - resilienceMiddleware');
      expect(express_.map((s) => s.name)).toContain(handlerSpanName(major, '/users/:id'));
      for (const span of express_) {
        expect(span.spanContext().traceId).toBe(server?.spanContext().traceId);
        expect(parentOf(span)).toBe(server?.spanContext().spanId);
      }
      // Nothing from otel-resilience: the guard traces nothing itself.
      expect(spans.filter((s) => s.instrumentationScope.name === 'otel-resilience')).toEqual([]);
    });

    it('runs a queued request in its own trace, not in the trace of the request that freed the slot', async () => {
      const resilience = expressResilience({
        name: uniqueName('instr'),
        shedding: { maxConcurrent: 1, maxQueued: 1 },
      });
      const app = express();
      app.use(resilience.middleware());
      app.get('/work/:n', (_req, res) => void setTimeout(() => res.send('ok'), 40));
      const url = await listen(app);
      const first = fetch(`${url}/work/1`);
      await sleep(10);
      const second = fetch(`${url}/work/2`);
      await Promise.all([(await first).text(), (await second).text()]);
      await sleep(20);
      const spans = spanExporter.getFinishedSpans();
      const servers = spans.filter((s) => s.kind === SpanKind.SERVER);
      expect(servers).toHaveLength(2);
      const handlers = spans.filter((s) => s.name === handlerSpanName(major, '/work/:n'));
      expect(handlers).toHaveLength(2);
      expect(new Set(handlers.map((h) => h.spanContext().traceId)).size).toBe(2);
      for (const handler of handlers) {
        const server = servers.find(
          (s) => s.spanContext().traceId === handler.spanContext().traceId,
        );
        expect(parentOf(handler)).toBe(server?.spanContext().spanId);
      }
    });

    it('leaves http.server.request.duration to the instrumentation: one series per route, none from the middleware', async () => {
      const resilience = expressResilience({ name: uniqueName('instr'), timeoutMs: 30 });
      const app = express();
      app.use(resilience.middleware());
      const orders = express.Router();
      orders.get('/:id', (_req, res) => void res.send('order'));
      orders.get('/:id/slow', () => {});
      app.use(`/${major === 'Express 4' ? 'v4' : 'v5'}/orders`, orders);
      const url = await listen(app);
      const prefix = `/${major === 'Express 4' ? 'v4' : 'v5'}/orders`;
      await fetch(`${url}${prefix}/1`);
      await fetch(`${url}${prefix}/2`);
      await fetch(`${url}${prefix}/3/slow`);
      await sleep(20);
      const mine = (await serverDurations()).filter((p) => String(p.route).startsWith(prefix));
      expect(mine).toEqual([
        {
          scope: '@opentelemetry/instrumentation-http',
          route: `${prefix}/:id`,
          status: 200,
          count: 2,
        },
        {
          scope: '@opentelemetry/instrumentation-http',
          route: `${prefix}/:id/slow`,
          status: 503,
          count: 1,
        },
      ]);
    });
  },
);
