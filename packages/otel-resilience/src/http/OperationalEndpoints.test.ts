import { diag } from '@opentelemetry/api';
import { describe, expect, it, vi } from 'vitest';
import { HealthRegistry } from '../health/HealthRegistry.js';
import { captureDiag } from '../testing/otel.js';
import { checkEndpointPath, EndpointProtection, HealthEndpoints } from './OperationalEndpoints.js';

const parse = (body: string) => JSON.parse(body) as Record<string, unknown>;

describe('EndpointProtection', () => {
  it('lets everyone in without a hook', async () => {
    expect(await new EndpointProtection().refusalFor({})).toBeUndefined();
  });

  it('refuses anything but true with a bare 403 (or 401), synchronously or not', async () => {
    const forbid = new EndpointProtection<{ ok: unknown }>({ authorize: (r) => r.ok as boolean });
    expect(await forbid.refusalFor({ ok: true })).toBeUndefined();
    const refusal = await forbid.refusalFor({ ok: 'yes' });
    expect(refusal?.status).toBe(403);
    expect(parse(refusal?.body ?? '')).toEqual({ error: 'forbidden' });
    expect(refusal?.headers['cache-control']).toBe('no-store');
    const unauthenticated = new EndpointProtection({
      authorize: async () => false,
      deniedStatus: 401,
    });
    expect(parse((await unauthenticated.refusalFor({}))?.body ?? '')).toEqual({
      error: 'unauthorized',
    });
  });

  it('fails closed when the hook throws, reporting it on the diag logger only', async () => {
    const logger = captureDiag();
    const protection = new EndpointProtection({
      authorize: () => {
        throw new Error('token store down: secret=abc');
      },
    });
    const refusal = await protection.refusalFor({});
    diag.disable();
    expect(refusal?.status).toBe(403);
    expect(refusal?.body).not.toContain('secret');
    expect(logger.warn).toHaveBeenCalledWith(
      'otel-resilience: an authorize hook threw; the request was refused',
      expect.any(Error),
    );
  });

  it('rejects bad options naming them', () => {
    expect(() => new EndpointProtection({ authorize: 'x' as never })).toThrow(
      'authorize must be a function, got x',
    );
    expect(() => new EndpointProtection({ deniedStatus: 500 as 403 })).toThrow(
      'deniedStatus must be 401 or 403, got 500',
    );
  });
});

describe('HealthEndpoints', () => {
  it('serves GET and HEAD of its two paths only, trailing slash or not', () => {
    const endpoints = new HealthEndpoints(new HealthRegistry(), { statusPath: '/ops/status/' });
    expect(endpoints.endpointFor('GET', '/health')).toBe('health');
    expect(endpoints.endpointFor('HEAD', '/health/')).toBe('health');
    expect(endpoints.endpointFor('GET', '/ops/status')).toBe('status');
    expect(endpoints.endpointFor('POST', '/health')).toBeUndefined();
    expect(endpoints.endpointFor('GET', '/status')).toBeUndefined();
    const statusOnly = new HealthEndpoints(new HealthRegistry(), { healthPath: null });
    expect(statusOnly.endpointFor('GET', '/health')).toBeUndefined();
    expect(statusOnly.endpointFor('GET', '/status')).toBe('status');
  });

  it('answers readiness with 200 or 503 and the status with the whole report', async () => {
    const registry = new HealthRegistry();
    let up = true;
    registry.addCheck('db', () => up);
    const endpoints = new HealthEndpoints(registry);
    const ready = await endpoints.answer('health', {});
    expect([ready.status, parse(ready.body)]).toEqual([200, { status: 'healthy', ready: true }]);
    up = false;
    const notReady = await endpoints.answer('health', {});
    expect([notReady.status, parse(notReady.body)]).toEqual([
      503,
      { status: 'unhealthy', ready: false },
    ]);
    const status = await endpoints.answer('status', {});
    expect(status.status).toBe(200);
    expect(parse(status.body)).toMatchObject({ status: 'unhealthy', ready: false });
    expect((parse(status.body).checks as unknown[]).length).toBe(1);
  });

  it('runs no check for a refused request', async () => {
    const registry = new HealthRegistry();
    const check = vi.fn(() => true);
    registry.addCheck('db', check);
    const endpoints = new HealthEndpoints(registry, { authorize: () => false });
    expect((await endpoints.answer('status', {})).status).toBe(403);
    expect(check).not.toHaveBeenCalled();
  });

  it('rejects bad paths naming them', () => {
    expect(() => new HealthEndpoints(new HealthRegistry(), { healthPath: 'health' })).toThrow(
      'healthPath must be a path starting with "/" (or null), got health',
    );
    expect(() => checkEndpointPath('path', null)).toThrow(
      'path must be a path starting with "/", got null',
    );
  });
});
