import type { ErrorRequestHandler } from 'express';
import {
  consecutiveBreaker,
  currentDeadlineScope,
  isTimeoutExceededError,
  RetryBudget,
  remainingTimeMs,
} from 'otel-resilience';
import { points, useTestTelemetry } from 'otel-resilience/testing';
import { describe, expect, it, vi } from 'vitest';
import { type ExpressResilience, expressResilience } from './ExpressResilience.js';
import { inboundRequestOf } from './inboundRequestOf.js';
import {
  closeServersAfterEach,
  EXPRESS_MAJORS,
  listenInSpan,
  sleep,
  uniqueName,
} from './testSupport.js';

type Collected = Awaited<ReturnType<ReturnType<typeof useTestTelemetry>['collect']>>;

const ofInstance = (resilience: ExpressResilience, data: Collected, metric: string) =>
  points(data, metric).filter((p) =>
    String(p.attributes['resilience.name']).startsWith(resilience.guard.name),
  );

const rejections = (resilience: ExpressResilience, data: Collected) =>
  ofInstance(resilience, data, 'resilience.http.server.rejections').map((p) => [
    p.attributes['http.route'],
    p.attributes['resilience.rejection.reason'],
    p.value,
  ]);

describe.each(EXPRESS_MAJORS)('expressResilience on %s', (major, loadExpress) => {
  const express = loadExpress();
  const otel = useTestTelemetry();
  closeServersAfterEach();

  const make = (options: Parameters<typeof expressResilience>[0] = {}) =>
    expressResilience({ name: uniqueName(), ...options });

  it('answers a handler that runs out of time with 503 JSON, aborts its signal, drops its late writes and counts it under the route template', async () => {
    const resilience = make({ timeoutMs: 50 });
    const app = express();
    app.use(resilience.middleware());
    let signal: AbortSignal | undefined;
    let lateWrite: (() => void) | undefined;
    app.get('/slow/:id', (req, res) => {
      signal = inboundRequestOf(req)?.signal;
      lateWrite = () => res.status(200).json({ late: true });
    });
    const url = await listenInSpan(app);
    const response = await fetch(`${url}/slow/42?token=secret`);
    expect(response.status).toBe(503);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await response.json()).toEqual({
      error: 'timeout',
      message: 'The request did not complete within its time limit of 50 ms.',
    });
    expect(signal?.aborted).toBe(true);
    expect(isTimeoutExceededError(signal?.reason)).toBe(true);
    expect(lateWrite).not.toThrow();

    expect(rejections(resilience, await otel.collect())).toEqual([['/slow/:id', 'timeout', 1]]);
    await sleep(5);
    const [server] = otel.spans().filter((s) => s.name === 'server');
    expect(server?.events.map((e) => [e.name, e.attributes])).toEqual([
      [
        'resilience.http.server.rejection',
        { 'resilience.rejection.reason': 'timeout', 'http.route': '/slow/:id' },
      ],
    ]);
  });

  it('answers 504 when timeoutStatus says so', async () => {
    const app = express();
    app.use(make({ timeoutMs: 20, timeoutStatus: 504 }).middleware());
    app.get('/', () => {});
    expect((await fetch(await listenInSpan(app))).status).toBe(504);
  });

  it('never replaces a response that already started: the handler keeps it, its work aborted', async () => {
    const app = express();
    app.use(make({ timeoutMs: 30 }).middleware());
    let signal: AbortSignal | undefined;
    app.get('/stream', (req, res) => {
      signal = inboundRequestOf(req)?.signal;
      res.status(200).type('text/plain').write('part 1,');
      setTimeout(() => res.end(' part 2'), 80);
    });
    const response = await fetch(`${await listenInSpan(app)}/stream`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('part 1, part 2');
    expect(signal?.aborted).toBe(true);
  });

  it('survives a handler that fails after the timeout answered: no crash, no second write', async () => {
    const app = express();
    app.use(make({ timeoutMs: 30 }).middleware());
    app.get('/fails-late', (_req, _res, next) => {
      // next(error) is how Express 4 handlers report async failures; Express 5 also catches a
      // rejected promise the same way.
      setTimeout(() => next(new Error('database went away')), 60);
    });
    const seen: unknown[] = [];
    const errorHandler: ErrorRequestHandler = (error, _req, res, _next) => {
      seen.push((error as Error).message);
      res.status(500).json({ error: 'internal' });
      seen.push(res.statusCode);
    };
    app.use(errorHandler);
    const uncaught = vi.fn();
    process.on('uncaughtException', uncaught);
    process.on('unhandledRejection', uncaught);
    try {
      const response = await fetch(`${await listenInSpan(app)}/fails-late`);
      expect(response.status).toBe(503);
      expect(((await response.json()) as { error: string }).error).toBe('timeout');
      await sleep(80);
      expect(seen).toEqual(['database went away', 500]);
      expect(uncaught).not.toHaveBeenCalled();
    } finally {
      process.off('uncaughtException', uncaught);
      process.off('unhandledRejection', uncaught);
    }
  });

  it.runIf(major === 'Express 5')(
    'survives an async handler that rejects after the timeout answered (Express 5 catches it)',
    async () => {
      const app = express();
      app.use(make({ timeoutMs: 20 }).middleware());
      let failed = false;
      app.get('/rejects-late', async () => {
        await sleep(50);
        failed = true;
        throw new Error('late failure');
      });
      const uncaught = vi.fn();
      process.on('unhandledRejection', uncaught);
      try {
        const response = await fetch(`${await listenInSpan(app)}/rejects-late`);
        expect(response.status).toBe(503);
        await sleep(70);
        expect(failed).toBe(true);
        expect(uncaught).not.toHaveBeenCalled();
      } finally {
        process.off('unhandledRejection', uncaught);
      }
    },
  );

  it('aborts the request signal when the client goes away, so downstream work stops', async () => {
    const app = express();
    app.use(make({ timeoutMs: 5_000 }).middleware());
    let signal: AbortSignal | undefined;
    let scoped = false;
    app.get('/long', (req) => {
      signal = currentDeadlineScope()?.signal;
      scoped = signal !== undefined && signal === inboundRequestOf(req)?.signal;
    });
    const url = await listenInSpan(app);
    const client = new AbortController();
    const pending = fetch(`${url}/long`, { signal: client.signal }).catch(() => 'gone');
    await sleep(20);
    expect([scoped, signal?.aborted]).toEqual([true, false]);
    client.abort();
    expect(await pending).toBe('gone');
    await sleep(20);
    expect(signal?.aborted).toBe(true);
  });

  it('lets a deadline header shorten, never extend, the limit; a malformed one is ignored and counted, never a 500', async () => {
    const resilience = make({ timeoutMs: 200, deadlineHeader: 'X-Request-Timeout-Ms' });
    const app = express();
    app.use(resilience.middleware());
    // The limit left when the handler runs, to the 50 ms (the first request pays for warming up).
    app.get('/', (_req, res) => void res.json(Math.ceil(remainingTimeMs() / 50) * 50));
    const url = await listenInSpan(app);
    const limitWith = async (value: string) => {
      const response = await fetch(url, { headers: { 'x-request-timeout-ms': value } });
      return [response.status, await response.json()];
    };
    expect(await limitWith('100')).toEqual([200, 100]);
    expect(await limitWith('5000')).toEqual([200, 200]);
    expect(await limitWith('soon')).toEqual([200, 200]);
    const expired = await fetch(url, { headers: { 'x-request-timeout-ms': '0' } });
    expect(expired.status).toBe(503);
    expect(((await expired.json()) as { error: string }).error).toBe('deadline_exceeded');
    const data = await otel.collect();
    expect(ofInstance(resilience, data, 'resilience.http.server.invalid_deadline_headers')).toEqual(
      [{ attributes: { 'resilience.name': resilience.guard.name }, value: 1 }],
    );
  });

  it('runs handlers inside the request deadline scope: its deadline, signal and retry budget', async () => {
    const retryBudget = new RetryBudget({ name: uniqueName('budget') });
    const app = express();
    app.use(make({ timeoutMs: 1_000, retryBudget }).middleware());
    app.get('/scope', async (req, res) => {
      await sleep(1);
      const scope = currentDeadlineScope();
      res.json({
        signal: scope?.signal === inboundRequestOf(req)?.signal && scope?.signal !== undefined,
        budget: scope?.retryBudget === retryBudget,
        remaining: remainingTimeMs() > 500 && remainingTimeMs() <= 1_000,
      });
    });
    const response = await fetch(`${await listenInSpan(app)}/scope`);
    expect(await response.json()).toEqual({ signal: true, budget: true, remaining: true });
    retryBudget.dispose();
  });

  it('sheds load beyond capacity and queue with 503 and Retry-After; a queued request runs when a slot frees', async () => {
    const resilience = make({ shedding: { maxConcurrent: 1, maxQueued: 1, retryAfterSeconds: 3 } });
    const app = express();
    app.use(resilience.middleware());
    const order: string[] = [];
    app.get('/work/:n', (req, res) => {
      order.push(req.params.n as string);
      setTimeout(() => res.send(req.params.n), 60);
    });
    const url = await listenInSpan(app);
    const first = fetch(`${url}/work/1`);
    await sleep(15);
    const second = fetch(`${url}/work/2`);
    await sleep(15);
    const third = await fetch(`${url}/work/3`);
    expect(third.status).toBe(503);
    expect(third.headers.get('retry-after')).toBe('3');
    expect(((await third.json()) as { error: string }).error).toBe('shed');
    expect(await (await first).text()).toBe('1');
    expect(await (await second).text()).toBe('2');
    expect(order).toEqual(['1', '2']);
    // Shed before routing: the route is not known yet, so it is counted in the unmatched bucket.
    expect(rejections(resilience, await otel.collect())).toEqual([['_OTHER', 'shed', 1]]);
  });

  it('applies a route bulkhead to its own route only', async () => {
    const resilience = make();
    const app = express();
    app.use(resilience.middleware());
    const release: Array<() => void> = [];
    app.get('/export', resilience.route({ shedding: { maxConcurrent: 1 } }), (_req, res) => {
      release.push(() => res.send('exported'));
    });
    app.get('/ping', (_req, res) => void res.send('pong'));
    const url = await listenInSpan(app);
    const first = fetch(`${url}/export`);
    await sleep(20);
    const refused = await fetch(`${url}/export`);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await (await fetch(`${url}/ping`)).text()).toBe('pong');
    release.shift()?.();
    expect(await (await first).text()).toBe('exported');
    expect(rejections(resilience, await otel.collect())).toEqual([['/export', 'shed', 1]]);
    const report = await resilience.health.report();
    expect(report.bulkheads.map((b) => b.name)).toEqual([`${resilience.guard.name} /export`]);
  });

  it('gives a route its own time limit, longer or shorter than the default, counted from arrival', async () => {
    const resilience = make({ timeoutMs: 40 });
    const app = express();
    app.use(resilience.middleware());
    const respondAfter = (ms: number) => (_req: unknown, res: { send(b: string): void }) =>
      void setTimeout(() => res.send('done'), ms);
    app.get('/report', resilience.route({ timeoutMs: 500 }), respondAfter(80));
    app.get('/quick', resilience.route({ timeoutMs: 10 }), respondAfter(30));
    const url = await listenInSpan(app);
    const report = await fetch(`${url}/report`);
    expect([report.status, await report.text()]).toEqual([200, 'done']);
    const quick = await fetch(`${url}/quick`);
    expect(quick.status).toBe(503);
    expect(await quick.json()).toEqual({
      error: 'timeout',
      message: 'The request did not complete within its time limit of 10 ms.',
    });
  });

  it('opens a route breaker on 5xx responses and fails fast with 503 and Retry-After until the route recovers', async () => {
    const resilience = make();
    const app = express();
    app.use(resilience.middleware());
    let healthy = false;
    const router = express.Router();
    router.get(
      '/orders/:id',
      resilience.route({
        circuitBreaker: {
          breaker: consecutiveBreaker(2),
          halfOpenAfterMs: 150,
          successThreshold: 1,
        },
      }),
      (_req, res) => void res.sendStatus(healthy ? 200 : 500),
    );
    app.use('/api', router);
    const url = await listenInSpan(app);
    expect((await fetch(`${url}/api/orders/1`)).status).toBe(500);
    expect((await fetch(`${url}/api/orders/2`)).status).toBe(500);
    const refused = await fetch(`${url}/api/orders/3`);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(((await refused.json()) as { error: string }).error).toBe('circuit_open');
    const whileOpen = await resilience.health.report();
    expect(whileOpen.status).toBe('critical');
    expect(whileOpen.breakers).toEqual([
      {
        name: `${resilience.guard.name} /api/orders/:id`,
        state: 'open',
        attributes: { 'http.route': '/api/orders/:id' },
      },
    ]);
    healthy = true;
    await sleep(170);
    expect((await fetch(`${url}/api/orders/4`)).status).toBe(200);
    await sleep(5); // the trial call ends when the response closes, just after the client has it
    expect((await resilience.health.report()).breakers[0]?.state).toBe('closed');
    expect(rejections(resilience, await otel.collect())).toEqual([
      ['/api/orders/:id', 'circuit_open', 1],
    ]);
  });

  it('guards the request itself when only route middleware is installed', async () => {
    const resilience = make({ timeoutMs: 10_000 });
    const app = express();
    let scoped = false;
    app.get('/alone/:id', resilience.route({ timeoutMs: 30 }), (req) => {
      scoped = currentDeadlineScope()?.signal === inboundRequestOf(req)?.signal;
    });
    const response = await fetch(`${await listenInSpan(app)}/alone/7`);
    expect(response.status).toBe(503);
    expect(scoped).toBe(true);
    expect(rejections(resilience, await otel.collect())).toEqual([['/alone/:id', 'timeout', 1]]);
  });

  it('guards a request once when two instances (or a sub-app) install the middleware', async () => {
    const outer = make({ timeoutMs: 40 });
    const inner = make({ timeoutMs: 10 });
    const app = express();
    app.use(outer.middleware());
    const sub = express();
    sub.use(inner.middleware());
    sub.get('/x', (_req, res) => void setTimeout(() => res.send('sub'), 20));
    app.use('/sub', sub);
    const response = await fetch(`${await listenInSpan(app)}/sub/x`);
    expect([response.status, await response.text()]).toEqual([200, 'sub']);
  });

  it('reports requests no route matched under one bucket, whatever their path', async () => {
    const resilience = make({ timeoutMs: 20 });
    const app = express();
    app.use(resilience.middleware());
    app.use(() => {}); // a middleware that never answers unknown paths
    const url = await listenInSpan(app);
    for (const path of ['/a', '/b/1', '/c?x=1']) expect((await fetch(url + path)).status).toBe(503);
    expect(rejections(resilience, await otel.collect())).toEqual([['_OTHER', 'timeout', 3]]);
  });

  it('emits http.server.request.duration with the route template only when serverMetrics is on', async () => {
    const quiet = make();
    const loud = make({ serverMetrics: true });
    const app = express();
    const users = express.Router();
    users.get('/:id', (_req, res) => void res.status(502).end());
    app.use('/q', quiet.middleware(), users);
    app.use('/l', loud.middleware(), users);
    const url = await listenInSpan(app);
    await fetch(`${url}/q/1`);
    expect(points(await otel.collect(), 'http.server.request.duration')).toEqual([]);
    await fetch(`${url}/l/42?email=a@b.c`);
    await fetch(`${url}/l/43`);
    await sleep(5);
    const metric = (await otel.collect()).find(
      (m) => m.descriptor.name === 'http.server.request.duration',
    );
    expect(metric?.descriptor.unit).toBe('s');
    expect(
      metric?.dataPoints.map((p) => [p.attributes, (p.value as { count: number }).count]),
    ).toEqual([
      [
        {
          'http.request.method': 'GET',
          'http.route': '/l/:id',
          'http.response.status_code': 502,
          'url.scheme': 'http',
          'error.type': '502',
        },
        2,
      ],
    ]);
  });

  it('reports url.scheme from req.protocol, bounded to http and https', async () => {
    const resilience = make({ serverMetrics: true });
    const app = express();
    app.set('trust proxy', true);
    app.use(resilience.middleware());
    app.get('/scheme', (_req, res) => void res.end());
    const url = await listenInSpan(app);
    for (const proto of ['https', 'gopher', 'http']) {
      await fetch(`${url}/scheme`, { headers: { 'x-forwarded-proto': proto } });
    }
    await sleep(5);
    const metric = (await otel.collect()).find(
      (m) => m.descriptor.name === 'http.server.request.duration',
    );
    expect(
      metric?.dataPoints.map((p) => [
        p.attributes['url.scheme'],
        (p.value as { count: number }).count,
      ]),
    ).toEqual([
      ['https', 1],
      ['http', 2],
    ]);
  });

  it('throws a TypeError naming the invalid option, at construction', () => {
    expect(() => expressResilience({ timeoutMs: 0 })).toThrow(
      new TypeError('timeoutMs must be a number of milliseconds > 0 (or Infinity), got 0'),
    );
    expect(() => expressResilience({ timeoutStatus: 500 as 503 })).toThrow(/^timeoutStatus/);
    expect(() => expressResilience({ shedding: { maxConcurrent: 0 } })).toThrow(
      /shedding.maxConcurrent/,
    );
    expect(() => expressResilience('fast' as never)).toThrow(TypeError);
    const resilience = make();
    expect(() => resilience.route({ timeoutMs: -1 })).toThrow(/^timeoutMs must be/);
    expect(() => resilience.route({ shedding: { maxConcurrent: 1.5 } })).toThrow(
      /shedding.maxConcurrent/,
    );
    expect(() => resilience.route({ circuitBreaker: { halfOpenAfterMs: -5 } })).toThrow(
      /halfOpenAfterMs/,
    );
    expect(() => resilience.healthEndpoints({ healthPath: 'health' })).toThrow(
      new TypeError('healthPath must be a path starting with "/" (or null), got health'),
    );
    expect(() => resilience.healthEndpoints({ statusPath: 3 as never })).toThrow(/^statusPath/);
    expect(() => resilience.healthEndpoints({ authorize: 'admin' as never })).toThrow(
      new TypeError('authorize must be a function, got admin'),
    );
    expect(() => resilience.healthEndpoints({ deniedStatus: 500 as 403 })).toThrow(
      new TypeError('deniedStatus must be 401 or 403, got 500'),
    );
    expect(() => resilience.metricsEndpoint({} as never)).toThrow(/^exporter must be/);
  });

  it('dispose() removes its entries from the health registry', async () => {
    const resilience = make({ shedding: { maxConcurrent: 2 } });
    expect((await resilience.health.report()).bulkheads).toHaveLength(1);
    expect((await resilience.health.report()).budgets).toHaveLength(1);
    resilience.dispose();
    const report = await resilience.health.report();
    expect([report.bulkheads, report.budgets]).toEqual([[], []]);
  });
});
