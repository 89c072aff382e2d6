/**
 * One benchmark server, run in its own process so that it and the load generator each get a core:
 * `node --import tsx server.ts <variant>`; it prints its URL on stdout once it listens.
 *
 * Variants: `express-bare`, `express-als`, `express-guarded`, `koa-bare`, `koa-als`, `koa-guarded`
 * (`-als`: only an AsyncLocalStorage scope per request; the guarded ones with the
 * whole middleware stack: deadline, shedding, route template, `http.server.request.duration`, and
 * a real OpenTelemetry SDK registered), `upstream` (a plain `node:http` server for the Axios runs).
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
import { expressResilience } from 'otel-resilience-express';
import { koaResilience } from 'otel-resilience-koa';

const BODY = { ok: true, items: [1, 2, 3] };
const GUARD_OPTIONS = {
  timeoutMs: 10_000,
  // Never full under the benchmark's 50 connections: the cost measured is that of the check.
  shedding: { maxConcurrent: 1_000, maxQueued: 1_000 },
  serverMetrics: true,
} as const;

function installSdk(): void {
  const provider = new MeterProvider({
    readers: [
      new PeriodicExportingMetricReader({
        exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
        exportIntervalMillis: 5_000,
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

function expressServer(guarded: boolean | 'als'): Server {
  const app = express();
  if (guarded === 'als') {
    app.use((_req, _res, next) => alsOnly.run({}, next));
    app.get('/items/:id', (_req, res) => void res.json(BODY));
  } else if (guarded) {
    installSdk();
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

function koaServer(guarded: boolean | 'als'): Server {
  const app = new Koa();
  const router = new Router();
  if (guarded === 'als') {
    app.use((_ctx, next) => alsOnly.run({}, next));
    router.get('/items/:id', (ctx) => {
      ctx.body = BODY;
    });
  } else if (guarded) {
    installSdk();
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
const factories: Record<string, () => Server> = {
  'express-bare': () => expressServer(false),
  'express-guarded': () => expressServer(true),
  'express-als': () => expressServer('als'),
  'koa-bare': () => koaServer(false),
  'koa-guarded': () => koaServer(true),
  'koa-als': () => koaServer('als'),
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
server.listen(0, '127.0.0.1', () => {
  console.log(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
