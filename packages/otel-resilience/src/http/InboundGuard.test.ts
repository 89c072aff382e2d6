import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, metrics, type Span, trace } from '@opentelemetry/api';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { inject } from 'light-my-request';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { consecutiveBreaker } from '../breaker/Breaker.js';
import { currentDeadlineScope, remainingTimeMs } from '../DeadlineContext.js';
import { isTimeoutExceededError } from '../errors/TimeoutExceededError.js';
import { RetryBudget } from '../RetryBudget.js';
import { points, useTestTelemetry } from '../testing/otel.js';
import { InboundGuard, type InboundGuardOptions, MAX_ROUTE_TEMPLATES } from './InboundGuard.js';
import type { InboundRequest } from './InboundRequest.js';

type Handler = (req: IncomingMessage, res: ServerResponse, request: InboundRequest) => unknown;

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(
    servers.splice(0).map(
      (server) =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    ),
  );
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A plain Node server whose every request goes through `guard` (the way the adapters use it). */
async function serve(
  guard: InboundGuard,
  handler: Handler,
  route?: { template: string; options: Parameters<InboundGuard['route']>[0] },
): Promise<string> {
  const inboundRoute = route === undefined ? undefined : guard.route(route.options);
  const server = createServer((req, res) => {
    trace.getTracer('test').startActiveSpan('server', (span) => {
      res.once('close', () => span.end());
      const request = guard.begin(req, res);
      void request.run(() =>
        inboundRoute === undefined || route === undefined
          ? handler(req, res, request)
          : request.enterRoute(inboundRoute, route.template, () => handler(req, res, request)),
      );
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

// Series are process-wide: each guard gets its own name so tests do not see each other's counts.
let guards = 0;
const guardWith = (options: InboundGuardOptions) =>
  new InboundGuard({ name: `inbound-${++guards}`, ...options });
const ofGuard = (
  guard: InboundGuard,
  data: Awaited<ReturnType<ReturnType<typeof useTestTelemetry>['collect']>>,
  name: string,
) =>
  points(data, name).filter((p) => String(p.attributes['resilience.name']).startsWith(guard.name));

describe('InboundGuard', () => {
  const otel = useTestTelemetry();

  it('answers a request that runs out of time with 503 JSON, aborts its signal, and swallows late writes', async () => {
    const guard = guardWith({ timeoutMs: 50 });
    let signal: AbortSignal | undefined;
    let lateWrite: (() => void) | undefined;
    let inbound: InboundRequest | undefined;
    const url = await serve(guard, (_req, res, request) => {
      inbound = request;
      signal = request.signal;
      lateWrite = () => {
        res.setHeader('x-late', '1');
        res.writeHead(200);
        res.end('late');
      };
    });
    const response = await fetch(`${url}/slow?token=abc`);
    expect(response.status).toBe(503);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.json()).toEqual({
      error: 'timeout',
      message: 'The request did not complete within its time limit of 50 ms.',
    });
    expect(signal?.aborted).toBe(true);
    expect(isTimeoutExceededError(signal?.reason)).toBe(true);
    expect(signal?.reason.source).toBe('deadline');
    expect(lateWrite).not.toThrow();
    expect(inbound?.answeredWith).toBe('timeout');

    const data = await otel.collect();
    expect(ofGuard(guard, data, 'resilience.http.server.rejections')).toEqual([
      {
        attributes: {
          'resilience.name': guard.name,
          'http.route': '_OTHER',
          'resilience.rejection.reason': 'timeout',
        },
        value: 1,
      },
    ]);
    await sleep(10);
    const [server] = otel.spans().filter((s) => s.name === 'server');
    expect(server?.events.map((e) => [e.name, e.attributes])).toEqual([
      ['resilience.http.server.rejection', { 'resilience.rejection.reason': 'timeout' }],
    ]);
  });

  it('answers 504 when configured so', async () => {
    const url = await serve(guardWith({ timeoutMs: 20, timeoutStatus: 504 }), () => {});
    expect((await fetch(url)).status).toBe(504);
  });

  it('never replaces a response that already started: the handler keeps it, its work aborted', async () => {
    let signal: AbortSignal | undefined;
    const url = await serve(guardWith({ timeoutMs: 30 }), (_req, res, request) => {
      signal = request.signal;
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('part 1,');
      setTimeout(() => res.end(' part 2'), 80);
    });
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('part 1, part 2');
    expect(signal?.aborted).toBe(true);
  });

  it('runs the handler in a deadline scope with the request signal and the guard budget', async () => {
    const retryBudget = new RetryBudget({ name: 'inbound' });
    const guard = guardWith({ timeoutMs: 1_000, retryBudget });
    const seen: unknown[] = [];
    const url = await serve(guard, async (_req, res, request) => {
      await sleep(1);
      const scope = currentDeadlineScope();
      seen.push(scope?.signal === request.signal, scope?.retryBudget === retryBudget);
      seen.push(remainingTimeMs() <= 1_000 && remainingTimeMs() > 500);
      res.end('ok');
    });
    expect(await (await fetch(url)).text()).toBe('ok');
    expect(seen).toEqual([true, true, true]);
    retryBudget.dispose();
  });

  it('lets a deadline header shorten, never extend, the limit; ignores and counts a malformed one', async () => {
    const guard = guardWith({ timeoutMs: 200, deadlineHeader: 'X-Deadline-Ms' });
    const limits: number[] = [];
    const url = await serve(guard, (_req, res) => {
      limits.push(Math.round(remainingTimeMs() / 10) * 10);
      res.end('ok');
    });
    await fetch(url, { headers: { 'x-deadline-ms': '100' } });
    await fetch(url, { headers: { 'x-deadline-ms': '5000' } });
    const malformed = await fetch(url, { headers: { 'x-deadline-ms': '5s' } });
    expect(malformed.status).toBe(200);
    expect(limits).toEqual([100, 200, 200]);
    const data = await otel.collect();
    expect(ofGuard(guard, data, 'resilience.http.server.invalid_deadline_headers')).toEqual([
      { attributes: { 'resilience.name': guard.name }, value: 1 },
    ]);
  });

  it('answers at once, without running the handler, when the caller deadline already passed', async () => {
    const handler = vi.fn();
    const url = await serve(guardWith({ deadlineHeader: 'x-deadline-ms' }), handler);
    const response = await fetch(url, { headers: { 'x-deadline-ms': '0' } });
    expect(response.status).toBe(503);
    expect(((await response.json()) as { error: string }).error).toBe('deadline_exceeded');
    expect(handler).not.toHaveBeenCalled();
  });

  it('sheds beyond capacity and queue with 503 and Retry-After; a queued request runs when a slot frees', async () => {
    const guard = guardWith({ shedding: { maxConcurrent: 1, maxQueued: 1, retryAfterSeconds: 7 } });
    const order: string[] = [];
    const url = await serve(guard, (req, res) => {
      order.push(req.url ?? '');
      setTimeout(() => res.end(req.url), 60);
    });
    const first = fetch(`${url}/1`);
    await sleep(15);
    const second = fetch(`${url}/2`);
    await sleep(15);
    const third = await fetch(`${url}/3`);
    expect(third.status).toBe(503);
    expect(third.headers.get('retry-after')).toBe('7');
    expect(await third.json()).toEqual({
      error: 'shed',
      message: 'The server is at capacity and did not start this request; retry after 7 s.',
    });
    expect(await (await first).text()).toBe('/1');
    expect(await (await second).text()).toBe('/2');
    expect(order).toEqual(['/1', '/2']);
    const data = await otel.collect();
    expect(ofGuard(guard, data, 'resilience.bulkhead.rejections')).toEqual([
      { attributes: { 'resilience.name': guard.name }, value: 1 },
    ]);
    expect(
      ofGuard(guard, data, 'resilience.http.server.rejections').map(
        (p) => p.attributes['resilience.rejection.reason'],
      ),
    ).toEqual(['shed']);
  });

  it('answers a request that times out while queued, and never runs its handler', async () => {
    const guard2 = guardWith({ timeoutMs: 30, shedding: { maxConcurrent: 1, maxQueued: 5 } });
    const handled2: string[] = [];
    const url2 = await serve(guard2, (req, res) => {
      handled2.push(req.url ?? '');
      // Headers go out at once, so the guard cannot answer /hold: it keeps its slot for 100 ms.
      if (req.url === '/hold') {
        res.writeHead(200);
        setTimeout(() => res.end('held'), 100);
      } else res.end('ok');
    });
    const hold2 = fetch(`${url2}/hold`);
    await sleep(5);
    const starved = await fetch(`${url2}/starved`);
    expect(starved.status).toBe(503);
    expect(((await starved.json()) as { error: string }).error).toBe('timeout');
    await hold2;
    expect(handled2).toEqual(['/hold']);
    expect(guard2.bulkhead?.queued).toBe(0);
  });

  it('lets a route extend the default limit, counted from arrival', async () => {
    const guard = guardWith({ timeoutMs: 30 });
    const url = await serve(guard, (_req, res) => void setTimeout(() => res.end('done'), 60), {
      template: '/reports/:id',
      options: { timeoutMs: 500 },
    });
    const response = await fetch(`${url}/reports/1`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('done');
  });

  it("answers at once, without running the handler, a request that reaches its route after the route's limit", async () => {
    const guard = guardWith({ timeoutMs: 5_000 });
    const route = guard.route({ timeoutMs: 20 });
    const handler = vi.fn((_req: IncomingMessage, res: ServerResponse) => void res.end('late'));
    const server = createServer((req, res) => {
      const request = guard.begin(req, res);
      void request.run(async () => {
        await sleep(40); // a slow app middleware before the route
        return request.enterRoute(route, '/slow', () => handler(req, res));
      });
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    expect(response.status).toBe(503);
    expect(((await response.json()) as { error: string }).error).toBe('timeout');
    expect(handler).not.toHaveBeenCalled();
  });

  it('opens a route breaker on 5xx responses and answers 503 with Retry-After until it recovers', async () => {
    const guard = guardWith({});
    let healthy = false;
    const url = await serve(
      guard,
      (_req, res) => {
        res.statusCode = healthy ? 200 : 500;
        res.end();
      },
      {
        template: '/orders',
        options: {
          circuitBreaker: {
            breaker: consecutiveBreaker(2),
            halfOpenAfterMs: 200,
            successThreshold: 1,
          },
        },
      },
    );
    expect((await fetch(`${url}/orders`)).status).toBe(500);
    expect((await fetch(`${url}/orders`)).status).toBe(500);
    const refused = await fetch(`${url}/orders`);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(((await refused.json()) as { error: string }).error).toBe('circuit_open');
    healthy = true;
    await sleep(210);
    expect((await fetch(`${url}/orders`)).status).toBe(200);
    expect((await fetch(`${url}/orders`)).status).toBe(200);

    const report = await guard.health.report();
    expect(report.breakers).toEqual([
      { name: `${guard.name} /orders`, state: 'closed', attributes: { 'http.route': '/orders' } },
    ]);
    const data = await otel.collect();
    expect(
      ofGuard(guard, data, 'resilience.http.server.rejections').map((p) => [
        p.attributes['http.route'],
        p.attributes['resilience.rejection.reason'],
        p.value,
      ]),
    ).toEqual([['/orders', 'circuit_open', 1]]);
    expect(
      ofGuard(guard, data, 'resilience.circuit_breaker.transitions').map((p) => [
        p.attributes['resilience.name'],
        p.attributes['http.route'],
        p.attributes['resilience.circuit_breaker.state'],
      ]),
    ).toEqual([
      [`${guard.name} /orders`, '/orders', 'open'],
      [`${guard.name} /orders`, '/orders', 'half_open'],
      [`${guard.name} /orders`, '/orders', 'closed'],
    ]);
  });

  it('does not count a client that went away as a route failure, and aborts its work', async () => {
    const guard = guardWith({});
    let inbound: InboundRequest | undefined;
    const url = await serve(
      guard,
      (_req, _res, request) => {
        // The handler never reads the signal: it is made (already aborted) when the client leaves.
        inbound = request;
      },
      { template: '/x', options: { circuitBreaker: { breaker: consecutiveBreaker(1) } } },
    );
    const controller = new AbortController();
    const pending = fetch(`${url}/x`, { signal: controller.signal }).catch(() => 'aborted');
    await sleep(20);
    controller.abort();
    expect(await pending).toBe('aborted');
    await sleep(20);
    expect(inbound?.signal.aborted).toBe(true);
    expect((await guard.health.report()).breakers).toEqual([
      { name: `${guard.name} /x`, state: 'closed', attributes: { 'http.route': '/x' } },
    ]);
  });

  it('treats a response the handler ended as answered when the server closes it at once (light-my-request)', async () => {
    const guard = guardWith({ serverMetrics: true });
    const route = guard.route({ circuitBreaker: { breaker: consecutiveBreaker(1) } });
    const signals: AbortSignal[] = [];
    // light-my-request (Fastify's inject) emits 'close' right after end(), before the response
    // counts as `writableFinished`, as a socket that closed early would.
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      const request = guard.begin(req, res);
      void request.run(() =>
        request.enterRoute(route, '/injected', () => {
          signals.push(request.signal);
          res.end('ok');
        }),
      );
    };
    for (let i = 0; i < 3; i++) {
      expect((await inject(handler, { url: '/injected' })).statusCode).toBe(200);
    }
    await sleep(5);
    // Taken for a client that went away, each would have been aborted and gone unmeasured.
    expect(signals.map((signal) => signal.aborted)).toEqual([false, false, false]);
    expect(
      points(await otel.collect(), 'http.server.request.duration')
        .filter((p) => p.attributes['http.route'] === '/injected')
        .map((p) => (p.value as { count: number }).count),
    ).toEqual([3]);
    expect((await guard.health.report()).breakers[0]?.state).toBe('closed');
  });

  it('settles run() as soon as it answered, even if the handler promise never does; a late rejection is handled', async () => {
    const guard = guardWith({ timeoutMs: 20 });
    const unhandled = vi.fn();
    process.on('unhandledRejection', unhandled);
    let settled: Promise<unknown> | undefined;
    const server = createServer((req, res) => {
      settled = guard
        .begin(req, res)
        .run(() => sleep(60).then(() => Promise.reject(new Error('late failure'))));
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    expect(response.status).toBe(503);
    await expect(settled).resolves.toBeUndefined();
    await sleep(80);
    process.off('unhandledRejection', unhandled);
    expect(unhandled).not.toHaveBeenCalled();
  });

  it('returns nothing to wait for from run() when proceed answers synchronously, and a synchronous throw as a rejection', async () => {
    const guard = guardWith({ shedding: { maxConcurrent: 1 } });
    const results: unknown[] = [];
    const server = createServer((req, res) => {
      if (req.url === '/throws') {
        const settled = guard.begin(req, res).run(() => {
          throw new Error('sync failure');
        });
        results.push(settled);
        settled?.catch(() => res.end('failed'));
        return;
      }
      results.push(guard.begin(req, res).run(() => res.end('ok')));
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    expect(await (await fetch(url)).text()).toBe('ok');
    expect(await (await fetch(`${url}/throws`)).text()).toBe('failed');
    expect(results[0]).toBeUndefined();
    await expect(results[1]).rejects.toThrow('sync failure');
  });

  it('rejects run() with the handler error when it fails before any answer', async () => {
    const guard = guardWith({});
    let settled: Promise<unknown> | undefined;
    const server = createServer((req, res) => {
      settled = guard.begin(req, res).run(() => Promise.reject(new Error('handler failed')));
      settled?.catch(() => res.end('failed'));
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    await expect(settled).rejects.toThrow('handler failed');
  });

  it('emits http.server.request.duration only when serverMetrics is on', async () => {
    const quiet = await serve(guardWith({}), (_req, res) => res.end());
    await fetch(quiet);
    expect(points(await otel.collect(), 'http.server.request.duration')).toEqual([]);

    const url = await serve(
      guardWith({ serverMetrics: true }),
      (_req, res) => {
        res.statusCode = 502;
        res.end();
      },
      { template: '/users/:id', options: {} },
    );
    await fetch(`${url}/users/42?email=a@b.c`);
    await sleep(10);
    const data = await otel.collect();
    const metric = data.find((m) => m.descriptor.name === 'http.server.request.duration');
    expect(metric?.descriptor.unit).toBe('s');
    expect(metric?.dataPoints.map((p) => p.attributes)).toEqual([
      {
        'http.request.method': 'GET',
        'http.route': '/users/:id',
        'http.response.status_code': 502,
        'url.scheme': 'http',
        'error.type': '502',
      },
    ]);
  });

  it('counts a timeout under the route routeOf reads, and reports events and the route to the http instrumentation', async () => {
    const guard = guardWith({ timeoutMs: 20 });
    const tracer = trace.getTracer('test');
    const metadata: { type: string; span?: Span; route?: string } = { type: 'http' };
    const server = createServer((req, res) => {
      // What the http instrumentation does: a server span, kept in the context's RPC metadata,
      // while a framework instrumentation's span is the active one when the middleware runs.
      const serverSpan = tracer.startSpan('http server');
      metadata.span = serverSpan;
      const withMetadata = context
        .active()
        .setValue(Symbol.for('OpenTelemetry SDK Context Key RPC_METADATA'), metadata);
      context.with(withMetadata, () =>
        tracer.startActiveSpan('middleware', (middlewareSpan) => {
          let matched: string | undefined;
          const request = guard.begin(req, res, { routeOf: () => matched });
          res.once('close', () => {
            middlewareSpan.end();
            serverSpan.end();
          });
          void request.run(() => {
            matched = '/reports/:id';
          });
        }),
      );
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const response = await fetch(
      `http://127.0.0.1:${(server.address() as AddressInfo).port}/reports/7`,
    );
    expect(response.status).toBe(503);
    await sleep(10);
    expect(
      ofGuard(guard, await otel.collect(), 'resilience.http.server.rejections').map(
        (p) => p.attributes['http.route'],
      ),
    ).toEqual(['/reports/:id']);
    const byName = new Map(otel.spans().map((s) => [s.name, s]));
    expect(byName.get('http server')?.events.map((e) => [e.name, e.attributes])).toEqual([
      [
        'resilience.http.server.rejection',
        { 'resilience.rejection.reason': 'timeout', 'http.route': '/reports/:id' },
      ],
    ]);
    expect(byName.get('middleware')?.events).toEqual([]);
    // Handed over when the guard answered, before the response ended.
    expect(metadata.route).toBe('/reports/:id');
  });

  it('hands a route set by a route middleware to the http instrumentation', async () => {
    const guard = guardWith({});
    const metadata: { type: string; route?: string } = { type: 'http' };
    const server = createServer((req, res) => {
      const withMetadata = context
        .active()
        .setValue(Symbol.for('OpenTelemetry SDK Context Key RPC_METADATA'), metadata);
      context.with(withMetadata, () => {
        const request = guard.begin(req, res);
        request.route = '/orders/:id';
        res.end();
      });
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/orders/1`);
    expect(metadata.route).toBe('/orders/:id');
  });

  it('reports at most MAX_ROUTE_TEMPLATES distinct routes, the rest as _OTHER', () => {
    const guard = guardWith({});
    for (let i = 0; i < MAX_ROUTE_TEMPLATES; i++) expect(guard.routeLabel(`/r${i}`)).toBe(`/r${i}`);
    expect(guard.routeLabel('/one-too-many')).toBe('_OTHER');
    expect(guard.routeLabel('/r0')).toBe('/r0');
    expect(guard.routeLabel(undefined)).toBe('_OTHER');
  });

  it('exports its counters through an SDK registered after it was made, with no policy run', async () => {
    const guard = guardWith({ timeoutMs: 10, retryBudget: null });
    const url = await serve(guard, () => {});
    // A fresh SDK (useTestTelemetry) that nothing has bound instruments to yet.
    metrics.disable();
    const reader = new PeriodicExportingMetricReader({
      exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
      exportIntervalMillis: 3_600_000,
    });
    const provider = new MeterProvider({ readers: [reader] });
    metrics.setGlobalMeterProvider(provider);
    expect((await fetch(url)).status).toBe(503);
    const { resourceMetrics } = await reader.collect();
    const names = resourceMetrics.scopeMetrics.flatMap((s) =>
      s.metrics.map((m) => m.descriptor.name),
    );
    expect(names).toContain('resilience.http.server.rejections');
    await provider.shutdown();
  });

  it('rejects invalid options naming them', () => {
    expect(() => guardWith({ timeoutMs: 0 })).toThrow(
      'timeoutMs must be a number of milliseconds > 0 (or Infinity), got 0',
    );
    expect(() => guardWith({ timeoutStatus: 500 as 503 })).toThrow(
      'timeoutStatus must be 503 or 504, got 500',
    );
    expect(() => guardWith({ shedding: { maxConcurrent: 0 } })).toThrow(
      /shedding.maxConcurrent must be an integer >= 1/,
    );
    expect(() => guardWith({ shedding: { maxConcurrent: 1, maxQueued: -1 } })).toThrow(
      /shedding.maxQueued/,
    );
    expect(() => guardWith({ deadlineHeader: '' })).toThrow(/deadlineHeader/);
    expect(() => guardWith({ retryBudget: {} as RetryBudget })).toThrow(
      'retryBudget must be a RetryBudget or null',
    );
    expect(() => guardWith({ serverMetrics: 'yes' as never })).toThrow(
      'serverMetrics must be a boolean, got yes',
    );
    const guard = guardWith({});
    expect(() => guard.route({ timeoutMs: -1 })).toThrow(/timeoutMs must be/);
    expect(() => guard.route({ circuitBreaker: { halfOpenAfterMs: -5 } })).toThrow(
      /halfOpenAfterMs/,
    );
  });
});
