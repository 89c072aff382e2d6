import { diag } from '@opentelemetry/api';
import { captureDiag } from 'otel-resilience/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { expressResilience } from './ExpressResilience.js';
import { closeServersAfterEach, EXPRESS_MAJORS, listen, sleep, uniqueName } from './testSupport.js';

describe.each(EXPRESS_MAJORS)('health endpoints on %s', (_major, loadExpress) => {
  const express = loadExpress();
  closeServersAfterEach();
  afterEach(() => diag.disable());

  const make = (options: Parameters<typeof expressResilience>[0] = {}) =>
    expressResilience({ name: uniqueName(), ...options });

  it('answers /health 200 while ready and 503 once a check fails; /status serves the whole report', async () => {
    const resilience = make({ shedding: { maxConcurrent: 4, maxQueued: 2 } });
    let databaseUp = true;
    resilience.health.addCheck('database', () => databaseUp);
    resilience.health.addCheck('disk', () => ({
      status: 'degraded',
      details: { usedPercent: 85 },
    }));
    const app = express();
    app.use(resilience.healthEndpoints());
    app.use(resilience.middleware());
    const url = await listen(app);

    const healthy = await fetch(`${url}/health`);
    expect(healthy.status).toBe(200);
    expect(healthy.headers.get('cache-control')).toBe('no-store');
    expect(await healthy.json()).toEqual({ ready: true, status: 'degraded' });

    databaseUp = false;
    const failing = await fetch(`${url}/health`);
    expect(failing.status).toBe(503);
    expect(await failing.json()).toEqual({ ready: false, status: 'unhealthy' });

    const status = await fetch(`${url}/status`);
    expect(status.status).toBe(200);
    const report = (await status.json()) as Record<string, unknown>;
    expect(report).toMatchObject({
      status: 'unhealthy',
      ready: false,
      checks: [
        { name: 'database', status: 'unhealthy', critical: false },
        { name: 'disk', status: 'degraded', details: { usedPercent: 85 } },
      ],
      breakers: [],
      bulkheads: [
        { name: resilience.guard.name, active: 0, queued: 0, maxConcurrent: 4, maxQueued: 2 },
      ],
      budgets: [{ name: resilience.guard.name }],
    });
    expect(typeof report.checkedAt).toBe('string');
  });

  it('reports a failing critical check as critical on /status', async () => {
    const resilience = make();
    resilience.health.addCheck('queue', () => false, { critical: true });
    const app = express();
    app.use(resilience.healthEndpoints());
    const url = await listen(app);
    const response = await fetch(`${url}/status`);
    expect(((await response.json()) as { status: string }).status).toBe('critical');
  });

  it('mounts anywhere, with paths of your choice, and serves HEAD without a body', async () => {
    const resilience = make();
    const app = express();
    app.use('/ops', resilience.healthEndpoints({ healthPath: '/live', statusPath: '/info' }));
    app.get('/health', (_req, res) => void res.send('app route'));
    const url = await listen(app);
    expect((await fetch(`${url}/ops/live`)).status).toBe(200);
    expect((await fetch(`${url}/ops/live/`)).status).toBe(200);
    expect(((await (await fetch(`${url}/ops/info`)).json()) as { status: string }).status).toBe(
      'healthy',
    );
    const head = await fetch(`${url}/ops/live`, { method: 'HEAD' });
    expect([head.status, head.headers.get('content-type'), await head.text()]).toEqual([
      200,
      'application/json; charset=utf-8',
      '',
    ]);
    // Anything else goes on to the app.
    expect(await (await fetch(`${url}/health`)).text()).toBe('app route');
    expect((await fetch(`${url}/ops/live`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${url}/ops/other`)).status).toBe(404);
  });

  it('serves one endpoint only when the other path is null', async () => {
    const resilience = make();
    const app = express();
    app.use(resilience.healthEndpoints({ statusPath: null }));
    const url = await listen(app);
    expect((await fetch(`${url}/health`)).status).toBe(200);
    expect((await fetch(`${url}/status`)).status).toBe(404);
  });

  it('refuses what authorize refuses, with 403 (or deniedStatus) and nothing about the service', async () => {
    const resilience = make();
    resilience.health.addCheck('database', () => true);
    const app = express();
    const authorize = async (req: { get(name: string): string | undefined }) => {
      await sleep(1);
      return req.get('authorization') === 'Bearer ops';
    };
    app.use('/internal', resilience.healthEndpoints({ authorize, deniedStatus: 401 }));
    app.use(resilience.healthEndpoints({ authorize }));
    const url = await listen(app);
    const anonymous = await fetch(`${url}/internal/status`);
    expect([anonymous.status, await anonymous.text()]).toEqual([401, '{"error":"unauthorized"}']);
    expect(anonymous.headers.get('cache-control')).toBe('no-store');
    const wrong = await fetch(`${url}/status`, { headers: { authorization: 'Bearer guess' } });
    expect([wrong.status, await wrong.text()]).toEqual([403, '{"error":"forbidden"}']);
    const health = await fetch(`${url}/health`, { headers: { authorization: 'Bearer guess' } });
    expect(health.status).toBe(403);
    const allowed = await fetch(`${url}/status`, { headers: { authorization: 'Bearer ops' } });
    expect(allowed.status).toBe(200);
    expect(((await allowed.json()) as { checks: unknown[] }).checks).toHaveLength(1);
  });

  it('refuses (403) when the authorize hook throws, and reports the hook through diag', async () => {
    const logger = captureDiag();
    const resilience = make();
    const app = express();
    app.use(
      resilience.healthEndpoints({
        authorize: () => {
          throw new Error('token service down');
        },
      }),
    );
    const url = await listen(app);
    const response = await fetch(`${url}/status`);
    expect([response.status, await response.text()]).toEqual([403, '{"error":"forbidden"}']);
    expect(logger.warn).toHaveBeenCalledWith(
      'otel-resilience: an authorize hook threw; the request was refused',
      expect.objectContaining({ message: 'token service down' }),
    );
  });

  it('answers probes mounted before the middleware even while it sheds load', async () => {
    const resilience = make({ shedding: { maxConcurrent: 1 } });
    const app = express();
    app.use(resilience.healthEndpoints());
    app.use(resilience.middleware());
    const release: Array<() => void> = [];
    app.get('/busy', (_req, res) => void release.push(() => res.send('done')));
    const url = await listen(app);
    const busy = fetch(`${url}/busy`);
    await sleep(20);
    expect((await fetch(`${url}/busy`)).status).toBe(503);
    const health = await fetch(`${url}/health`);
    expect([health.status, await health.json()]).toEqual([
      200,
      { ready: true, status: 'degraded' },
    ]);
    release.shift()?.();
    expect(await (await busy).text()).toBe('done');
  });
});
