/*
 * With the http instrumentation but without the Express one, the route template the middleware
 * finds is what names the server span and labels `http.server.request.duration` (the engine hands
 * it to the instrumentation's RPC metadata). Its own file: instrumentations patch modules on
 * require, once per process.
 */
import { context, metrics, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { expressResilience } from './ExpressResilience.js';
import { closeServersAfterEach, EXPRESS_MAJORS, listen, sleep, uniqueName } from './testSupport.js';

const spanExporter = new InMemorySpanExporter();
const tracerProvider = new NodeTracerProvider({
  spanProcessors: [new SimpleSpanProcessor(spanExporter)],
});
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(tracerProvider);
const reader = new PeriodicExportingMetricReader({
  exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
  exportIntervalMillis: 3_600_000,
});
const meterProvider = new MeterProvider({ readers: [reader] });
metrics.setGlobalMeterProvider(meterProvider);
const unregister = registerInstrumentations({
  instrumentations: [new HttpInstrumentation()],
  tracerProvider,
  meterProvider,
});

afterAll(async () => {
  unregister();
  await tracerProvider.shutdown();
  await meterProvider.shutdown();
});

describe.each(EXPRESS_MAJORS)(
  'beside the http instrumentation alone, on %s',
  (major, loadExpress) => {
    const express = loadExpress();
    closeServersAfterEach();
    beforeEach(() => spanExporter.reset());

    it('names the server span and labels the duration series with the route template', async () => {
      const prefix = major === 'Express 4' ? '/e4' : '/e5';
      const resilience = expressResilience({ name: uniqueName('http-only'), timeoutMs: 30 });
      const app = express();
      app.use(resilience.middleware());
      const tenants = express.Router();
      tenants.get('/orders/:id', (_req, res) => void res.send('ok'));
      tenants.get('/slow', () => {});
      app.use(`${prefix}/tenants/:tenant`, tenants);
      const url = await listen(app);
      await fetch(`${url}${prefix}/tenants/acme/orders/1`);
      await fetch(`${url}${prefix}/tenants/globex/orders/2`);
      expect((await fetch(`${url}${prefix}/tenants/acme/slow`)).status).toBe(503);
      await sleep(20);

      const servers = spanExporter.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER);
      expect(servers.map((s) => [s.name, s.attributes['http.route']])).toEqual([
        [`GET ${prefix}/tenants/:tenant/orders/:id`, `${prefix}/tenants/:tenant/orders/:id`],
        [`GET ${prefix}/tenants/:tenant/orders/:id`, `${prefix}/tenants/:tenant/orders/:id`],
        [`GET ${prefix}/tenants/:tenant/slow`, `${prefix}/tenants/:tenant/slow`],
      ]);
      expect(servers[2]?.events.map((e) => [e.name, e.attributes])).toEqual([
        [
          'resilience.http.server.rejection',
          {
            'resilience.rejection.reason': 'timeout',
            'http.route': `${prefix}/tenants/:tenant/slow`,
          },
        ],
      ]);

      const { resourceMetrics } = await reader.collect();
      const durations = resourceMetrics.scopeMetrics.flatMap((scope) =>
        scope.metrics
          .filter((m) => m.descriptor.name === 'http.server.request.duration')
          .flatMap((m) =>
            m.dataPoints
              .filter((p) => String(p.attributes['http.route']).startsWith(prefix))
              .map((p) => [
                scope.scope.name,
                p.attributes['http.route'],
                p.attributes['http.response.status_code'],
                (p.value as { count: number }).count,
              ]),
          ),
      );
      expect(durations).toEqual([
        ['@opentelemetry/instrumentation-http', `${prefix}/tenants/:tenant/orders/:id`, 200, 2],
        ['@opentelemetry/instrumentation-http', `${prefix}/tenants/:tenant/slow`, 503, 1],
      ]);
    });
  },
);
