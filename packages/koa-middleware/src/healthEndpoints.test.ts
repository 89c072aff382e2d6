import { DiagLogLevel, diag } from '@opentelemetry/api';
import { HealthRegistry } from 'otel-resilience';
import { captureDiag } from 'otel-resilience/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { healthEndpoints } from './healthEndpoints.js';
import { koaResilience } from './koaResilience.js';
import { KOA_MAJORS, quietApp, sleep, uniqueName, useServers } from './testSupport.js';

describe.each(KOA_MAJORS)('health endpoints on Koa $major', ({ load }) => {
  const Koa = load();
  const listen = useServers();
  afterEach(() => diag.disable());

  /** An app serving the endpoints of `registry` and 404 for everything else. */
  const serve = (registry: HealthRegistry, options?: Parameters<typeof healthEndpoints>[1]) => {
    const { app } = quietApp(Koa);
    app.use(healthEndpoints(registry, options));
    return listen(app);
  };

  it('answers /health 200 while ready and 503 once a check fails; /status with the whole report', async () => {
    const resilience = koaResilience({ name: uniqueName(), shedding: { maxConcurrent: 2 } });
    let databaseUp = true;
    resilience.health.addCheck('database', () => ({
      status: databaseUp ? 'healthy' : 'unhealthy',
      details: { pool: 3 },
    }));
    const { app } = quietApp(Koa);
    app.use(resilience.healthEndpoints());
    const url = await listen(app);

    const healthy = await fetch(`${url}/health`);
    expect(healthy.status).toBe(200);
    expect(healthy.headers.get('cache-control')).toBe('no-store');
    expect(await healthy.json()).toEqual({ status: 'healthy', ready: true });

    const status = await fetch(`${url}/status`);
    expect(status.status).toBe(200);
    const report = (await status.json()) as Record<string, unknown>;
    expect(report).toMatchObject({
      status: 'healthy',
      ready: true,
      checks: [{ name: 'database', status: 'healthy', critical: false, details: { pool: 3 } }],
      breakers: [],
      bulkheads: [
        { name: resilience.guard.name, active: 0, queued: 0, maxConcurrent: 2, maxQueued: 0 },
      ],
      budgets: [{ name: resilience.guard.name, balance: expect.any(Number) }],
    });
    expect(Number.isNaN(Date.parse(String(report.checkedAt)))).toBe(false);

    databaseUp = false;
    const unhealthy = await fetch(`${url}/health`);
    expect(unhealthy.status).toBe(503);
    expect(await unhealthy.json()).toEqual({ status: 'unhealthy', ready: false });
    expect(((await (await fetch(`${url}/status`)).json()) as { status: string }).status).toBe(
      'unhealthy',
    );
  });

  it('serves at the paths of your choice, answers HEAD, and passes other paths and methods on', async () => {
    const registry = new HealthRegistry();
    const { app } = quietApp(Koa);
    app.use(healthEndpoints(registry, { healthPath: '/ops/ready', statusPath: null }));
    app.use((ctx) => {
      ctx.body = `next ${ctx.method} ${ctx.path}`;
    });
    const url = await listen(app);
    expect(await (await fetch(`${url}/ops/ready`)).json()).toEqual({
      status: 'healthy',
      ready: true,
    });
    const head = await fetch(`${url}/ops/ready`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    expect(await (await fetch(`${url}/status`)).text()).toBe('next GET /status');
    expect(await (await fetch(`${url}/health`)).text()).toBe('next GET /health');
    expect(await (await fetch(`${url}/ops/ready`, { method: 'POST' })).text()).toBe(
      'next POST /ops/ready',
    );
  });

  it('refuses with 403 when authorize says false, without running any check or leaking anything', async () => {
    const registry = new HealthRegistry();
    const check = vi.fn(() => true);
    registry.addCheck('secret-db-host', check);
    const url = await serve(registry, {
      authorize: (ctx) => ctx.get('authorization') === 'Bearer ops',
    });
    for (const path of ['/health', '/status']) {
      const refused = await fetch(`${url}${path}`);
      expect(refused.status).toBe(403);
      expect(refused.headers.get('cache-control')).toBe('no-store');
      expect(await refused.text()).toBe('{"error":"forbidden"}');
    }
    expect(check).not.toHaveBeenCalled();
    const allowed = await fetch(`${url}/status`, { headers: { authorization: 'Bearer ops' } });
    expect(allowed.status).toBe(200);
    expect(check).toHaveBeenCalledOnce();
  });

  it('awaits an async hook, answers deniedStatus 401, and fails closed when the hook throws or returns non-true', async () => {
    const logger = captureDiag(DiagLogLevel.WARN);
    const registry = new HealthRegistry();
    const url = await serve(registry, {
      deniedStatus: 401,
      authorize: async (ctx) => {
        await sleep(1);
        if (ctx.get('authorization') === 'broken') throw new Error('token service down');
        if (ctx.get('authorization') === 'truthy') return 'yes' as unknown as boolean;
        return ctx.get('authorization') === 'ok';
      },
    });
    const refused = await fetch(`${url}/status`);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toEqual({ error: 'unauthorized' });
    const broken = await fetch(`${url}/status`, { headers: { authorization: 'broken' } });
    expect(broken.status).toBe(401);
    expect(await broken.text()).toBe('{"error":"unauthorized"}');
    expect(logger.warn).toHaveBeenCalledOnce();
    expect(logger.warn.mock.calls[0]?.[0]).toBe(
      'otel-resilience: an authorize hook threw; the request was refused',
    );
    expect((await fetch(`${url}/status`, { headers: { authorization: 'truthy' } })).status).toBe(
      401,
    );
    expect((await fetch(`${url}/health`, { headers: { authorization: 'ok' } })).status).toBe(200);
  });

  it('keeps answering probes while the app sheds, when mounted before the middleware', async () => {
    const resilience = koaResilience({ name: uniqueName(), shedding: { maxConcurrent: 1 } });
    const { app } = quietApp(Koa);
    app.use(resilience.healthEndpoints()).use(resilience.middleware());
    app.use(async (ctx) => {
      await sleep(80);
      ctx.body = 'slow';
    });
    const url = await listen(app);
    const busy = fetch(`${url}/work`);
    await sleep(20);
    expect((await fetch(`${url}/work`)).status).toBe(503);
    const probe = await fetch(`${url}/status`);
    expect(probe.status).toBe(200);
    expect(((await probe.json()) as { status: string }).status).toBe('degraded');
    expect((await busy).status).toBe(200);
  });

  it('rejects invalid options, naming them', () => {
    const registry = new HealthRegistry();
    expect(() => healthEndpoints(registry, { healthPath: 'health' })).toThrow(
      new TypeError('healthPath must be a path starting with "/" (or null), got health'),
    );
    expect(() => healthEndpoints(registry, { statusPath: 5 as never })).toThrow(/statusPath/);
    expect(() => healthEndpoints(registry, { authorize: true as never })).toThrow(
      new TypeError('authorize must be a function, got true'),
    );
    expect(() => healthEndpoints(registry, { deniedStatus: 404 as 403 })).toThrow(
      new TypeError('deniedStatus must be 401 or 403, got 404'),
    );
    expect(() => healthEndpoints(registry, null as never)).toThrow(TypeError);
  });
});
