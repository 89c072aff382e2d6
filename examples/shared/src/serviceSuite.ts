/*
 * Test support: an example service in this process, with its flaky upstream and SQLite database,
 * checked through HTTP only — what a client, a load balancer and Prometheus see. One suite for the
 * Express and the Koa example.
 */
import { METRICS, type MetricKey, prometheusLabel, prometheusNames } from 'otel-resilience';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { UpstreamClient } from './orders.js';
import { MetricsSnapshot } from './prometheusText.js';
import type { ExampleService, ExampleServiceOptions } from './service.js';
import { NAMES } from './settings.js';
import { describeWithSqlite } from './sqliteSuite.js';
import type { Telemetry } from './telemetry.js';

/** What the suite needs of a started example service. */
export type SuiteService = ExampleService & {
  readonly telemetry: Telemetry;
  readonly app: { readonly upstream: UpstreamClient };
};

/** What a framework's own extra tests get. */
export interface ServiceTestKit<S> {
  /** The service started for the suite. */
  readonly service: () => S;
  /** GET `path` on the service. */
  readonly get: (path: string) => Promise<Response>;
  readonly json: (res: Response) => Promise<Record<string, unknown>>;
}

/**
 * The suite of an example service served by `framework`: `start` starts it (as its `start.ts`
 * does), `afterStart` sees it once started, `extraTests` adds the framework's own tests.
 */
export function describeServiceInProcess<S extends SuiteService>(options: {
  readonly framework: 'Express' | 'Koa';
  /** The `service.name` its telemetry reports. */
  readonly serviceName: string;
  readonly start: (options: ExampleServiceOptions) => Promise<S>;
  readonly afterStart?: (service: S) => void;
  readonly extraTests?: (kit: ServiceTestKit<S>) => void;
}): void {
  const { framework, serviceName, start, afterStart, extraTests } = options;
  let service: S;

  beforeAll(async () => {
    service = await start({
      upstreamMode: { latencyMs: 1, latencyJitterMs: 0 },
      // Short breaker periods keep the test short; the route breaker stays out of the way.
      settings: {
        upstream: { halfOpenAfterMs: 300 },
        routeBreaker: { failures: 1_000 },
      },
    });
    afterStart?.(service);
  }, 15_000);

  afterAll(async () => {
    await service?.close();
    await service?.telemetry.shutdown();
  });

  const L = (attribute: string) => prometheusLabel(attribute);
  const get = (path: string) => fetch(`${service.url}${path}`);
  const json = async (res: Response) => (await res.json()) as Record<string, unknown>;
  const metrics = async () => MetricsSnapshot.parse(await (await get('/metrics')).text());
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const upstreamBreaker = () => service.app.upstream.resilience.breakers()[0]?.breaker;

  /** Polls `/metrics` until `check` passes (the http instrumentation records at response end). */
  async function eventually(check: (m: MetricsSnapshot) => void, timeoutMs = 3_000) {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const snapshot = await metrics();
      try {
        check(snapshot);
        return snapshot;
      } catch (error) {
        if (performance.now() > deadline) throw error;
        await sleep(50);
      }
    }
  }

  describeWithSqlite(`the ${framework} example service`, () => {
    it('serves a read through the middleware, Knex and Axios, and a write through a Knex transaction', async () => {
      const read = await get('/orders/7');
      expect(read.status).toBe(200);
      expect(await json(read)).toMatchObject({ id: 7, unitPrice: expect.any(Number) });
      const write = await fetch(`${service.url}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ sku: 'C3', quantity: 2 }),
      });
      expect(write.status).toBe(201);
      expect(await json(write)).toEqual({ id: expect.any(Number) });
      expect((await get('/orders/999999')).status).toBe(404);
      expect((await get('/nowhere')).status).toBe(404);

      const calls = prometheusNames('callDuration').count as string;
      const server = prometheusNames('httpServerDuration').count as string;
      await eventually((m) => {
        for (const name of [NAMES.upstream, NAMES.db, NAMES.dbTransaction, NAMES.price]) {
          expect(m.sum(calls, { [L('resilience.name')]: name }), name).toBeGreaterThan(0);
        }
        // http.server.request.duration carries the route template the middleware found.
        expect(
          m.sum(server, {
            [L('http.route')]: '/orders/:id',
            [L('http.response.status_code')]: '200',
          }),
        ).toBeGreaterThan(0);
        expect(
          m.sum(server, { [L('http.route')]: '/orders', [L('http.response.status_code')]: '201' }),
        ).toBeGreaterThan(0);
        // The Axios client's own duration series (instrumentation-http), and no series for the
        // in-process upstream's server side (it stands for a remote service): every 200 carries
        // a route but those of /health and /status, which are middleware, not routes.
        expect(m.has('http_client_request_duration_count')).toBe(true);
        expect(
          m.sum(server, { [L('http.route')]: '', [L('http.response.status_code')]: '200' }),
        ).toBe(0);
      });
      const target = (await metrics()).select('target_info')[0];
      expect(target?.labels.service_name).toBe(serviceName);
    });

    it('answers /health and /status with the database check, the breakers, the budget and the bulkhead', async () => {
      const health = await get('/health');
      expect(health.status).toBe(200);
      expect(await json(health)).toEqual({ ready: true, status: 'healthy' });
      const status = await json(await get('/status'));
      expect(status).toMatchObject({ status: 'healthy', ready: true });
      expect(status.checks).toEqual([
        expect.objectContaining({ name: 'database', status: 'healthy' }),
      ]);
      const breakers = (status.breakers as Array<{ name: string; state: string }>).map(
        (b) => b.name,
      );
      expect(breakers).toEqual(
        expect.arrayContaining([NAMES.upstream, NAMES.db, `${NAMES.inbound} /orders/:id`]),
      );
      expect(status.budgets).toEqual([{ name: NAMES.inbound, balance: expect.any(Number) }]);
      expect(status.bulkheads).toEqual([
        expect.objectContaining({ name: NAMES.inbound, maxConcurrent: 12, maxQueued: 4 }),
      ]);
    });

    it('sheds and times out requests when the upstream slows down, and exposes every metric family', async () => {
      await service.upstream.control.setMode({ latencyMs: 1_000 });
      const answers = await Promise.all(
        Array.from({ length: 30 }, async (_, i) => {
          const res = await get(`/orders/${1 + i}`);
          return { status: res.status, body: await json(res) };
        }),
      );
      await service.upstream.control.setMode({ reset: true });
      const errors = answers.map((a) => a.body.error ?? (a.body.degraded ? 'degraded' : 'ok'));
      // 12 run, 4 wait, the rest are shed at once; the others meet attempt timeouts (300 ms) and
      // end degraded by the fallback, or reach the 1.5 s request limit.
      expect(errors.filter((e) => e === 'shed').length).toBe(14);
      expect(answers.find((a) => a.body.error === 'shed')?.status).toBe(503);
      expect(errors.filter((e) => e === 'degraded' || e === 'timeout').length).toBe(16);
      for (const answer of answers.filter((a) => a.body.error === 'timeout')) {
        expect(answer.status).toBe(503);
      }

      const expected: MetricKey[] = [
        'callDuration',
        'attemptDuration',
        'retryDecisions',
        'circuitState',
        'timeouts',
        'bulkheadActive',
        'bulkheadQueued',
        'bulkheadRejections',
        'retryBudgetTokens',
        'fallbacks',
        'inboundRejections',
        'httpServerDuration',
        'dbConnectionCount',
        'dbConnectionMax',
        'dbConnectionPendingRequests',
        'dbConnectionTimeouts',
        'dbConnectionWaitTime',
        'dbPoolExhaustionWarnings',
        'dbCommitVerifications',
      ];
      const m = await eventually((snapshot) => {
        for (const key of expected) {
          const names = prometheusNames(key);
          expect(snapshot.has(names.count ?? names.name), `${METRICS[key].name}`).toBe(true);
        }
      });
      const rejections = prometheusNames('inboundRejections').name;
      expect(m.sum(rejections, { [L('resilience.rejection.reason')]: 'shed' })).toBe(14);
      expect(
        m.sum(prometheusNames('timeouts').name, { [L('resilience.name')]: NAMES.upstream }),
      ).toBeGreaterThan(0);
      // Every series carries otel_scope_name; the resilience ones the engine's scope.
      expect(m.select(rejections)[0]?.labels.otel_scope_name).toBe('otel-resilience');
      upstreamBreaker()?.reset();
    });

    it('opens the upstream breaker in an outage, then answers at once without calling the upstream, and closes after it', async () => {
      await service.upstream.control.setMode({ failureRate: 1, latencyMs: 0, latencyJitterMs: 0 });
      let reads = 0;
      while (upstreamBreaker()?.state !== 'open' && reads < 60) {
        const res = await get(`/orders/${1 + (reads % 50)}`);
        expect(res.status).toBe(200);
        expect((await json(res)).degraded).toMatch(/^(503|circuit_open)$/);
        reads++;
      }
      expect(upstreamBreaker()?.state).toBe('open');
      // Attempts retried at first: the upstream got more requests than there were reads.
      const before = (await service.upstream.control.stats()).requests;
      expect(before).toBeGreaterThan(reads);

      for (let i = 0; i < 10; i++) {
        const started = performance.now();
        const res = await get(`/orders/${1 + i}`);
        expect(performance.now() - started).toBeLessThan(100);
        expect(res.status).toBe(200);
        expect(await json(res)).toMatchObject({ unitPrice: null, degraded: 'circuit_open' });
      }
      expect((await service.upstream.control.stats()).requests).toBe(before);

      const breakerState = prometheusNames('circuitState').name;
      const m = await metrics();
      const upstreamSeries = { [L('resilience.name')]: NAMES.upstream };
      expect(
        m.sum(breakerState, { ...upstreamSeries, [L('resilience.circuit_breaker.state')]: 'open' }),
      ).toBe(1);
      expect(
        m.sum(prometheusNames('circuitTransitions').name, {
          ...upstreamSeries,
          [L('resilience.circuit_breaker.previous_state')]: 'closed',
          [L('resilience.circuit_breaker.state')]: 'open',
        }),
      ).toBeGreaterThanOrEqual(1);
      expect(
        m.sum(prometheusNames('circuitRejections').name, upstreamSeries),
      ).toBeGreaterThanOrEqual(10);
      // An open breaker makes /status critical, not /health: this instance still serves.
      expect((await json(await get('/status'))).status).toBe('critical');
      expect((await get('/health')).status).toBe(200);

      await service.upstream.control.setMode({ reset: true });
      await sleep(350); // the breaker's open period (300 ms in this test)
      for (let i = 0; i < 20 && upstreamBreaker()?.state !== 'closed'; i++) {
        const res = await get(`/orders/${1 + i}`);
        expect(res.status).toBe(200);
      }
      expect(upstreamBreaker()?.state).toBe('closed');
      expect(await json(await get('/orders/3'))).toMatchObject({ unitPrice: expect.any(Number) });
    });

    extraTests?.({ service: () => service, get, json });
  });
}
