import { PassThrough } from 'node:stream';
import {
  consecutiveBreaker,
  currentDeadlineScope,
  isTimeoutExceededError,
  remainingTimeMs,
} from 'otel-resilience';
import { points, useTestTelemetry } from 'otel-resilience/testing';
import { describe, expect, it, vi } from 'vitest';
import { inboundRequestOf } from './inboundRequestOf.js';
import { type KoaResilienceOptions, koaResilience } from './koaResilience.js';
import { KOA_MAJORS, loadRouter, quietApp, sleep, uniqueName, useServers } from './testSupport.js';

const Router = loadRouter();

describe.each(KOA_MAJORS)('koaResilience on Koa $major', ({ load }) => {
  const Koa = load();
  const otel = useTestTelemetry();
  const listen = useServers();

  const resilienceWith = (options: KoaResilienceOptions) =>
    koaResilience({ name: uniqueName(), ...options });

  /** Points of `metric` of this middleware's series, as [route, reason, value]. */
  const rejections = async (name: string) =>
    points(await otel.collect(), 'resilience.http.server.rejections')
      .filter((p) => p.attributes['resilience.name'] === name)
      .map((p) => [
        p.attributes['http.route'],
        p.attributes['resilience.rejection.reason'],
        p.value,
      ]);

  it('answers a request that runs out of time with 503 JSON, aborts its signal, counts it under the matched route, and ignores late writes', async () => {
    const resilience = resilienceWith({ timeoutMs: 50 });
    const { app, errors } = quietApp(Koa);
    let signal: AbortSignal | undefined;
    let scopeSignal: AbortSignal | undefined;
    let lateWrite: Promise<void> | undefined;
    const router = new Router();
    router.get('/slow/:id', async (ctx) => {
      signal = inboundRequestOf(ctx)?.signal;
      scopeSignal = currentDeadlineScope()?.signal;
      lateWrite = sleep(80).then(() => {
        ctx.status = 200;
        ctx.set('x-late', '1');
        ctx.body = 'late';
      });
      await lateWrite;
    });
    app.use(resilience.middleware()).use(router.routes());
    const url = await listen(app);

    const response = await fetch(`${url}/slow/42?token=secret`);
    expect(response.status).toBe(503);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.json()).toEqual({
      error: 'timeout',
      message: 'The request did not complete within its time limit of 50 ms.',
    });
    expect(signal?.aborted).toBe(true);
    expect(isTimeoutExceededError(signal?.reason)).toBe(true);
    expect(scopeSignal).toBe(signal);
    await lateWrite;
    await sleep(10);
    expect(errors).toEqual([]);
    expect(await rejections(resilience.guard.name)).toEqual([['/slow/:id', 'timeout', 1]]);
    // The connection is still good for the next request.
    expect((await fetch(`${url}/slow/1`)).status).toBe(503);
  });

  it('answers 504 when timeoutStatus says so', async () => {
    const resilience = resilienceWith({ timeoutMs: 20, timeoutStatus: 504 });
    const { app } = quietApp(Koa);
    app.use(resilience.middleware()).use(() => sleep(60));
    expect((await fetch(await listen(app))).status).toBe(504);
  });

  it('survives a handler that throws after the timeout answered: one answer, no error, no unhandled rejection', async () => {
    const resilience = resilienceWith({ timeoutMs: 20 });
    const { app, errors } = quietApp(Koa);
    const unhandled = vi.fn();
    process.on('unhandledRejection', unhandled);
    let thrown: Promise<void> | undefined;
    app.use(resilience.middleware()).use(async () => {
      thrown = sleep(50);
      await thrown;
      throw new Error('late failure');
    });
    const response = await fetch(await listen(app));
    expect(response.status).toBe(503);
    expect(((await response.json()) as { error: string }).error).toBe('timeout');
    await thrown;
    await sleep(20);
    process.off('unhandledRejection', unhandled);
    expect(unhandled).not.toHaveBeenCalled();
    expect(errors).toEqual([]);
  });

  it('lets an error thrown before any answer reach Koa (500)', async () => {
    const resilience = resilienceWith({});
    const { app, errors } = quietApp(Koa);
    app.use(resilience.middleware()).use(() => {
      throw new Error('handler failed');
    });
    const response = await fetch(await listen(app));
    expect(response.status).toBe(500);
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toBe('handler failed');
  });

  it('never replaces a response that already started: the handler keeps it, its work aborted', async () => {
    const resilience = resilienceWith({ timeoutMs: 30 });
    const { app } = quietApp(Koa);
    let signal: AbortSignal | undefined;
    app.use(resilience.middleware()).use((ctx) => {
      signal = inboundRequestOf(ctx)?.signal;
      const body = new PassThrough();
      ctx.type = 'text/plain';
      ctx.body = body;
      body.write('part 1,');
      setTimeout(() => body.end(' part 2'), 80);
    });
    const response = await fetch(await listen(app));
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('part 1, part 2');
    expect(signal?.aborted).toBe(true);
  });

  it('runs everything downstream in the deadline scope: signal, deadline and the retry budget', async () => {
    const resilience = resilienceWith({ timeoutMs: 1_000 });
    const { app } = quietApp(Koa);
    const seen: unknown[] = [];
    app.use(resilience.middleware()).use(async (ctx) => {
      await sleep(1);
      const scope = currentDeadlineScope();
      seen.push(scope === inboundRequestOf(ctx));
      seen.push(
        scope?.retryBudget === resilience.guard.retryBudget && scope?.retryBudget !== undefined,
      );
      seen.push(remainingTimeMs() <= 1_000 && remainingTimeMs() > 500);
      ctx.body = 'ok';
    });
    expect(await (await fetch(await listen(app))).text()).toBe('ok');
    expect(seen).toEqual([true, true, true]);
  });

  it('lets a deadline header shorten the limit; ignores and counts a malformed one; answers at once when it is 0', async () => {
    const resilience = resilienceWith({ timeoutMs: 200, deadlineHeader: 'X-Deadline-Ms' });
    const { app } = quietApp(Koa);
    const limits: number[] = [];
    app.use(resilience.middleware()).use((ctx) => {
      limits.push(Math.round(remainingTimeMs() / 10) * 10);
      ctx.body = 'ok';
    });
    const url = await listen(app);
    await fetch(url, { headers: { 'x-deadline-ms': '100' } });
    await fetch(url, { headers: { 'x-deadline-ms': '5000' } });
    const malformed = await fetch(url, { headers: { 'x-deadline-ms': 'soon' } });
    expect(malformed.status).toBe(200);
    expect(limits).toEqual([100, 200, 200]);
    const expired = await fetch(url, { headers: { 'x-deadline-ms': '0' } });
    expect(expired.status).toBe(503);
    expect(((await expired.json()) as { error: string }).error).toBe('deadline_exceeded');
    expect(limits).toHaveLength(3);
    const data = await otel.collect();
    expect(
      points(data, 'resilience.http.server.invalid_deadline_headers').filter(
        (p) => p.attributes['resilience.name'] === resilience.guard.name,
      ),
    ).toEqual([{ attributes: { 'resilience.name': resilience.guard.name }, value: 1 }]);
    expect(await rejections(resilience.guard.name)).toEqual([['_OTHER', 'deadline_exceeded', 1]]);
  });

  it('sheds beyond capacity and queue with 503 and Retry-After; a queued request runs when a slot frees', async () => {
    const resilience = resilienceWith({
      shedding: { maxConcurrent: 1, maxQueued: 1, retryAfterSeconds: 7 },
    });
    const { app } = quietApp(Koa);
    const order: string[] = [];
    app.use(resilience.middleware()).use(async (ctx) => {
      order.push(ctx.path);
      await sleep(60);
      ctx.body = ctx.path;
    });
    const url = await listen(app);
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
    expect(await rejections(resilience.guard.name)).toEqual([['_OTHER', 'shed', 1]]);
  });

  it('reports every unmatched request under one _OTHER series, never its path', async () => {
    const resilience = resilienceWith({ timeoutMs: 20 });
    const { app } = quietApp(Koa);
    const router = new Router();
    router.get('/known', (ctx) => {
      ctx.body = 'ok';
    });
    app
      .use(resilience.middleware())
      .use(router.routes())
      .use(() => sleep(40));
    const url = await listen(app);
    for (const path of ['/a/1', '/a/2', '/b?x=1']) {
      expect((await fetch(`${url}${path}`)).status).toBe(503);
    }
    expect(await rejections(resilience.guard.name)).toEqual([['_OTHER', 'timeout', 3]]);
  });

  describe('route()', () => {
    it('lets a route extend the default limit, counted from arrival', async () => {
      const resilience = resilienceWith({ timeoutMs: 30 });
      const { app } = quietApp(Koa);
      const router = new Router();
      router.get('/reports/:id', resilience.route({ timeoutMs: 500 }), async (ctx) => {
        await sleep(60);
        ctx.body = 'done';
      });
      router.get('/other', async (ctx) => {
        await sleep(60);
        ctx.body = 'done';
      });
      app.use(resilience.middleware()).use(router.routes());
      const url = await listen(app);
      const response = await fetch(`${url}/reports/1`);
      expect(response.status).toBe(200);
      expect(await response.text()).toBe('done');
      expect((await fetch(`${url}/other`)).status).toBe(503);
    });

    it('lets a route shorten the limit, counted under its template', async () => {
      const resilience = resilienceWith({ timeoutMs: 1_000 });
      const { app } = quietApp(Koa);
      const router = new Router({ prefix: '/api' });
      router.get('/search/:term', resilience.route({ timeoutMs: 30 }), () => sleep(80));
      app.use(resilience.middleware()).use(router.routes());
      const response = await fetch(`${await listen(app)}/api/search/abc`);
      expect(response.status).toBe(503);
      expect(await rejections(resilience.guard.name)).toEqual([
        ['/api/search/:term', 'timeout', 1],
      ]);
    });

    it('sheds one route on its own bulkhead while the others keep serving', async () => {
      const resilience = resilienceWith({});
      const { app } = quietApp(Koa);
      const router = new Router();
      router.get(
        '/export/:id',
        resilience.route({ shedding: { maxConcurrent: 1, retryAfterSeconds: 3 } }),
        async (ctx) => {
          await sleep(60);
          ctx.body = 'exported';
        },
      );
      router.get('/ping', (ctx) => {
        ctx.body = 'pong';
      });
      app.use(resilience.middleware()).use(router.routes());
      const url = await listen(app);
      const first = fetch(`${url}/export/1`);
      await sleep(20);
      const shed = await fetch(`${url}/export/2`);
      expect(shed.status).toBe(503);
      expect(shed.headers.get('retry-after')).toBe('3');
      expect(((await shed.json()) as { error: string }).error).toBe('shed');
      expect(await (await fetch(`${url}/ping`)).text()).toBe('pong');
      expect(await (await first).text()).toBe('exported');
      expect(await rejections(resilience.guard.name)).toEqual([['/export/:id', 'shed', 1]]);
      const report = await resilience.health.report();
      expect(report.bulkheads.map((b) => [b.name, b.maxConcurrent])).toContainEqual([
        `${resilience.guard.name} /export/:id`,
        1,
      ]);
    });

    it('opens a route breaker on 5xx responses, answers 503 with Retry-After, and recovers', async () => {
      const resilience = resilienceWith({});
      const { app } = quietApp(Koa);
      let healthy = false;
      let calls = 0;
      const router = new Router();
      router.get(
        '/orders/:id',
        resilience.route({
          circuitBreaker: {
            breaker: consecutiveBreaker(2),
            halfOpenAfterMs: 150,
            successThreshold: 1,
          },
        }),
        (ctx) => {
          calls++;
          if (!healthy) throw new Error('database down');
          ctx.body = 'order';
        },
      );
      app.use(resilience.middleware()).use(router.routes());
      const url = await listen(app);
      expect((await fetch(`${url}/orders/1`)).status).toBe(500);
      expect((await fetch(`${url}/orders/2`)).status).toBe(500);
      const refused = await fetch(`${url}/orders/3`);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('1');
      expect(((await refused.json()) as { error: string }).error).toBe('circuit_open');
      expect(calls).toBe(2);
      const open = await resilience.health.report();
      expect(open.breakers).toEqual([
        {
          name: `${resilience.guard.name} /orders/:id`,
          state: 'open',
          attributes: { 'http.route': '/orders/:id' },
        },
      ]);
      expect(open.status).toBe('critical');
      healthy = true;
      await sleep(170);
      expect((await fetch(`${url}/orders/4`)).status).toBe(200);
      expect((await resilience.health.report()).breakers[0]?.state).toBe('closed');
      expect(await rejections(resilience.guard.name)).toEqual([['/orders/:id', 'circuit_open', 1]]);
    });

    it('works without the app middleware: the route middleware begins the request itself', async () => {
      const resilience = resilienceWith({ timeoutMs: 5_000 });
      const { app } = quietApp(Koa);
      const router = new Router();
      let scoped = false;
      router.get('/alone/:id', resilience.route({ timeoutMs: 30 }), async (ctx) => {
        scoped = currentDeadlineScope() === inboundRequestOf(ctx) && scoped === false;
        await sleep(80);
      });
      app.use(router.routes());
      const response = await fetch(`${await listen(app)}/alone/1`);
      expect(response.status).toBe(503);
      expect(scoped).toBe(true);
      expect(await rejections(resilience.guard.name)).toEqual([['/alone/:id', 'timeout', 1]]);
    });

    it('validates route options now, naming the option', () => {
      const resilience = resilienceWith({});
      expect(() => resilience.route({ timeoutMs: -1 })).toThrow(TypeError);
      expect(() => resilience.route({ timeoutMs: -1 })).toThrow(/timeoutMs/);
      expect(() => resilience.route({ shedding: { maxConcurrent: 0 } })).toThrow(
        /shedding.maxConcurrent/,
      );
      expect(() => resilience.route({ circuitBreaker: { halfOpenAfterMs: -5 } })).toThrow(
        /halfOpenAfterMs/,
      );
      expect(() => resilience.route(null as never)).toThrow(TypeError);
    });
  });

  it('rejects invalid options at construction, naming them', () => {
    expect(() => koaResilience({ timeoutMs: 0 })).toThrow(
      new TypeError('timeoutMs must be a number of milliseconds > 0 (or Infinity), got 0'),
    );
    expect(() => koaResilience({ timeoutStatus: 500 as 503 })).toThrow(/timeoutStatus/);
    expect(() => koaResilience({ shedding: { maxConcurrent: 1.5 } })).toThrow(
      /shedding.maxConcurrent/,
    );
    expect(() => koaResilience({ deadlineHeader: '' })).toThrow(/deadlineHeader/);
    expect(() => koaResilience({ serverMetrics: 1 as never })).toThrow(/serverMetrics/);
    expect(() => koaResilience('fast' as never)).toThrow(TypeError);
  });

  it('gives one named app middleware, and dispose() removes its entries from the registry', async () => {
    const resilience = resilienceWith({ shedding: { maxConcurrent: 4 } });
    expect(resilience.middleware()).toBe(resilience.middleware());
    expect(resilience.middleware().name).toBe('resilienceMiddleware');
    const before = await resilience.health.report();
    expect(before.bulkheads.map((b) => b.name)).toEqual([resilience.guard.name]);
    expect(before.budgets.map((b) => b.name)).toEqual([resilience.guard.name]);
    resilience.dispose();
    const after = await resilience.health.report();
    expect(after.bulkheads).toEqual([]);
    expect(after.budgets).toEqual([]);
  });
});
