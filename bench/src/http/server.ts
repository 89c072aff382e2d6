/**
 * One benchmark server, run in its own process so that it and the load generator each get a core:
 * `node --import tsx server.ts <variant>`; once it listens it prints its URL and, after a space, the
 * URL that answers its CPU time so far (µs).
 *
 * Variants: `express-bare`, `express-als`, `express-guarded`, `express-producer`, and the same four
 * for `koa-` (`-als`: only an AsyncLocalStorage scope per request; `-guarded`: the whole middleware
 * stack — deadline, shedding, route template, `http.server.request.duration` — with a real
 * OpenTelemetry MeterProvider registered; `-producer`: the same with a `ResilienceMetricProducer`
 * on its reader), `upstream` (a plain `node:http` server for the Axios runs).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Router from '@koa/router';
import { metrics } from '@opentelemetry/api';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import express from 'express';
import Koa from 'koa';
import { ResilienceMetricProducer } from 'otel-resilience';
import { expressResilience } from 'otel-resilience-express';
import { koaResilience } from 'otel-resilience-koa';

const BODY = { ok: true, items: [1, 2, 3] };
const GUARD_OPTIONS = {
  timeoutMs: 10_000,
  // Never full under the benchmark's 50 connections: the cost measured is that of the check.
  shedding: { maxConcurrent: 1_000, maxQueued: 1_000 },
  serverMetrics: true,
} as const;

type Guard = 'bare' | 'als' | 'guarded' | 'producer';

/** A MeterProvider with a reader; with `producer`, histograms go through a ResilienceMetricProducer. */
function installSdk(guard: Guard): void {
  const provider = new MeterProvider({
    readers: [
      new PeriodicExportingMetricReader({
        exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
        exportIntervalMillis: 5_000,
        ...(guard === 'producer' ? { metricProducers: [new ResilienceMetricProducer()] } : {}),
      }),
    ],
  });
  metrics.setGlobalMeterProvider(provider);
}

/**
 * What any deadline propagation costs on Node 20 before our code runs: one AsyncLocalStorage scope
 * per request, which turns on Node's promise hooks for the whole process (an app that already
 * registers the OpenTelemetry context manager pays this already).
 */
const alsOnly = new AsyncLocalStorage<object>();

function expressServer(guard: Guard): Server {
  const app = express();
  if (guard === 'als') {
    app.use((_req, _res, next) => alsOnly.run({}, next));
    app.get('/items/:id', (_req, res) => void res.json(BODY));
  } else if (guard !== 'bare') {
    installSdk(guard);
    const resilience = expressResilience(GUARD_OPTIONS);
    app.use(resilience.middleware());
    app.get(
      '/items/:id',
      resilience.route({ timeoutMs: 5_000 }),
      (_req, res) => void res.json(BODY),
    );
  } else {
    app.get('/items/:id', (_req, res) => void res.json(BODY));
  }
  return createServer(app);
}

function koaServer(guard: Guard): Server {
  const app = new Koa();
  const router = new Router();
  if (guard === 'als') {
    app.use((_ctx, next) => alsOnly.run({}, next));
    router.get('/items/:id', (ctx) => {
      ctx.body = BODY;
    });
  } else if (guard !== 'bare') {
    installSdk(guard);
    const resilience = koaResilience(GUARD_OPTIONS);
    app.use(resilience.middleware());
    router.get('/items/:id', resilience.route({ timeoutMs: 5_000 }), (ctx) => {
      ctx.body = BODY;
    });
  } else {
    router.get('/items/:id', (ctx) => {
      ctx.body = BODY;
    });
  }
  app.use(router.routes());
  return createServer(app.callback());
}

function upstreamServer(): Server {
  const body = JSON.stringify(BODY);
  return createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(body);
  });
}

const variant = process.argv[2] ?? '';
const GUARDS: readonly Guard[] = ['bare', 'als', 'guarded', 'producer'];
const factories: Record<string, () => Server> = {
  ...Object.fromEntries(GUARDS.map((guard) => [`express-${guard}`, () => expressServer(guard)])),
  ...Object.fromEntries(GUARDS.map((guard) => [`koa-${guard}`, () => koaServer(guard)])),
  upstream: upstreamServer,
};
const factory = factories[variant];
if (factory === undefined) {
  console.error(
    `unknown variant ${JSON.stringify(variant)}; one of ${Object.keys(factories).join(', ')}`,
  );
  process.exit(2);
}
const server = factory();
server.keepAliveTimeout = 60_000;
// The process's CPU time (µs, user + system) on a port of its own, so that the benchmark can
// divide it by the requests served without adding a route to the app it measures.
const meter = createServer((_req, res) => {
  const { user, system } = process.cpuUsage();
  res.end(String(user + system));
});
const listening = (s: Server) =>
  new Promise<string>((resolve) =>
    s.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(s.address() as AddressInfo).port}`),
    ),
  );
const [appUrl, meterUrl] = await Promise.all([listening(server), listening(meter)]);
console.log(`${appUrl} ${meterUrl}`);
