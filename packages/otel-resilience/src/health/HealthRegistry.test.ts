import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { bulkhead } from '../BulkheadPolicy.js';
import { consecutiveBreaker } from '../breaker/Breaker.js';
import { circuitBreaker } from '../CircuitBreakerPolicy.js';
import { RetryBudget } from '../RetryBudget.js';
import { HealthRegistry } from './HealthRegistry.js';

const fail = () =>
  Promise.reject(Object.assign(new Error('secret token abc'), { code: 'ECONNREFUSED' }));

describe('HealthRegistry', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('is healthy and ready with nothing registered', async () => {
    const report = await new HealthRegistry().report();
    expect(report).toMatchObject({
      status: 'healthy',
      ready: true,
      checks: [],
      breakers: [],
      bulkheads: [],
      budgets: [],
    });
    expect(Number.isNaN(Date.parse(report.checkedAt))).toBe(false);
  });

  it('maps check results: booleans, statuses and details; a non-critical check is never critical', async () => {
    const health = new HealthRegistry();
    health.addCheck('ok', () => true);
    health.addCheck('slowish', async () => ({ status: 'degraded', details: { lagMs: 40 } }));
    health.addCheck('claims-critical', () => 'critical');
    const report = await health.report();
    expect(report.checks.map(({ name, status }) => [name, status])).toEqual([
      ['ok', 'healthy'],
      ['slowish', 'degraded'],
      ['claims-critical', 'unhealthy'],
    ]);
    expect(report.checks[1]?.details).toEqual({ lagMs: 40 });
    expect(report.status).toBe('unhealthy');
    expect(report.ready).toBe(false);
  });

  it('reports a failing critical check as critical with its error type, never its message', async () => {
    const health = new HealthRegistry();
    health.addCheck('db', fail, { critical: true });
    const report = await health.report();
    expect(report.checks).toEqual([
      { name: 'db', status: 'critical', critical: true, durationMs: 0, errorType: 'ECONNREFUSED' },
    ]);
    expect(JSON.stringify(report)).not.toContain('secret');
    expect(report).toMatchObject({ status: 'critical', ready: false });
  });

  it('fails a check that outlives its timeout and aborts its signal', async () => {
    const health = new HealthRegistry();
    let signal: AbortSignal | undefined;
    health.addCheck(
      'hangs',
      (s) => {
        signal = s;
        return new Promise<boolean>(() => {});
      },
      { timeoutMs: 50 },
    );
    const pending = health.report();
    await vi.advanceTimersByTimeAsync(50);
    const report = await pending;
    expect(report.checks[0]).toMatchObject({
      status: 'unhealthy',
      errorType: 'TimeoutExceededError',
      durationMs: 50,
    });
    expect(signal?.aborted).toBe(true);
  });

  it('counts an invalid check result as a failure', async () => {
    const health = new HealthRegistry();
    health.addCheck('odd', () => 'fine' as never);
    expect((await health.report()).checks[0]).toMatchObject({
      status: 'unhealthy',
      errorType: 'invalid_result',
    });
  });

  it('lists breakers (open is critical but keeps the service ready), bulkheads and budgets', async () => {
    const health = new HealthRegistry();
    const breaker = circuitBreaker({ name: 'payments', breaker: consecutiveBreaker(1) });
    const perHost = [circuitBreaker({ name: 'api.test' })];
    const pool = bulkhead(1, { name: 'reports', maxQueued: 1 });
    const budget = new RetryBudget({ name: 'outbound', minRetriesPerSecond: 0 });
    health.addBreakers(breaker);
    health.addBreakers(() => perHost);
    health.addBulkhead(pool);
    const registration = health.addBudget(budget);
    await expect(breaker.execute(fail)).rejects.toThrow();
    let release!: () => void;
    const running = pool.execute(() => new Promise<void>((r) => (release = r)));
    const report = await health.report();
    expect(report.breakers).toEqual([
      { name: 'payments', state: 'open' },
      { name: 'api.test', state: 'closed' },
    ]);
    expect(report.bulkheads).toEqual([
      { name: 'reports', active: 1, queued: 0, maxConcurrent: 1, maxQueued: 1 },
    ]);
    expect(report.budgets).toEqual([{ name: 'outbound', balance: 0 }]);
    expect(report).toMatchObject({ status: 'critical', ready: true });

    breaker.reset();
    release();
    await running;
    registration.dispose();
    expect(await health.report()).toMatchObject({ status: 'healthy', budgets: [] });
  });

  it('is degraded by a half-open breaker, a busy bulkhead or an empty budget', async () => {
    const statusWith = async (register: (health: HealthRegistry) => void) => {
      const health = new HealthRegistry();
      register(health);
      return (await health.report()).status;
    };
    const breaker = circuitBreaker({ breaker: consecutiveBreaker(1), halfOpenAfterMs: 10 });
    await expect(breaker.execute(fail)).rejects.toThrow();
    await vi.advanceTimersByTimeAsync(10);
    let endTrial!: () => void;
    const trial = breaker.execute(() => new Promise<void>((r) => (endTrial = r)));
    expect(await statusWith((h) => h.addBreakers(breaker))).toBe('degraded');
    endTrial();
    await trial;

    const pool = bulkhead(1);
    let release!: () => void;
    const running = pool.execute(() => new Promise<void>((r) => (release = r)));
    expect(await statusWith((h) => h.addBulkhead(pool))).toBe('degraded');
    release();
    await running;
    expect(await statusWith((h) => h.addBulkhead(pool))).toBe('healthy');

    const budget = new RetryBudget({ name: 'b', minRetriesPerSecond: 0 });
    expect(await statusWith((h) => h.addBudget(budget))).toBe('degraded');
    budget.dispose();
  });

  it('shares one report between calls made while it runs', async () => {
    const health = new HealthRegistry();
    const check = vi.fn(
      () => new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 10)),
    );
    health.addCheck('slow', check);
    const reports = Promise.all([health.report(), health.report(), health.report()]);
    await vi.advanceTimersByTimeAsync(10);
    const [a, b, c] = await reports;
    expect(a).toBe(b);
    expect(b).toBe(c);
    expect(check).toHaveBeenCalledTimes(1);
    const next = health.report();
    await vi.advanceTimersByTimeAsync(10);
    expect(await next).not.toBe(a);
    expect(check).toHaveBeenCalledTimes(2);
  });

  it('rejects a duplicate check name and bad options, naming them', () => {
    const health = new HealthRegistry();
    health.addCheck('db', () => true);
    expect(() => health.addCheck('db', () => true)).toThrow(
      'a health check named "db" exists already',
    );
    expect(() => health.addCheck('x', 'no' as never)).toThrow(/check must be a function/);
    expect(() => health.addCheck('y', () => true, { timeoutMs: 0 })).toThrow(/timeoutMs must be/);
  });

  it('removes a check when its registration is disposed', async () => {
    const health = new HealthRegistry();
    health.addCheck('gone', () => false).dispose();
    expect((await health.report()).checks).toEqual([]);
  });
});
