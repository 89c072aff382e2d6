import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RetryBudget } from './RetryBudget.js';
import { installTestTelemetry, points } from './testing/otel.js';

describe('RetryBudget', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const budgets: RetryBudget[] = [];
  const make = (options: ConstructorParameters<typeof RetryBudget>[0] = {}) => {
    const budget = new RetryBudget(options);
    budgets.push(budget);
    return budget;
  };
  afterEach(() => {
    for (const budget of budgets.splice(0)) budget.dispose();
  });

  it('starts with the reserve of minRetriesPerSecond × ttl and runs no timer', () => {
    const budget = make();
    expect(budget).toMatchObject({
      name: 'retry_budget',
      percentCanRetry: 0.2,
      ttlMs: 10_000,
      minRetriesPerSecond: 10,
    });
    expect(budget.balance).toBe(100);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('earns percentCanRetry of a token per call and spends one per retry', () => {
    const budget = make({ percentCanRetry: 0.2, minRetriesPerSecond: 0 });
    for (let i = 0; i < 4; i++) budget.recordCall();
    expect(budget.balance).toBe(0);
    expect(budget.tryWithdraw()).toBe(false);
    budget.recordCall();
    expect(budget.balance).toBe(1);
    expect(budget.tryWithdraw()).toBe(true);
    expect(budget.tryWithdraw()).toBe(false);
    expect(budget.balance).toBe(0);
  });

  it('adds fractional deposits exactly', () => {
    const budget = make({ percentCanRetry: 0.1, minRetriesPerSecond: 0 });
    for (let i = 0; i < 10; i++) budget.recordCall();
    expect(budget.tryWithdraw()).toBe(true);
  });

  it('forgets deposits once they are ttlMs old', async () => {
    const budget = make({ percentCanRetry: 1, ttlMs: 1_000, minRetriesPerSecond: 0 });
    budget.recordCall();
    budget.recordCall();
    await vi.advanceTimersByTimeAsync(500);
    budget.recordCall();
    expect(budget.balance).toBe(3);
    await vi.advanceTimersByTimeAsync(500);
    expect(budget.balance).toBe(1);
    await vi.advanceTimersByTimeAsync(500);
    expect(budget.balance).toBe(0);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(budget.balance).toBe(0);
    budget.recordCall();
    expect(budget.balance).toBe(1);
  });

  it('forgets withdrawals too: the reserve comes back after ttlMs', async () => {
    const budget = make({ ttlMs: 2_000, minRetriesPerSecond: 1 });
    expect(budget.tryWithdraw()).toBe(true);
    expect(budget.tryWithdraw()).toBe(true);
    expect(budget.tryWithdraw()).toBe(false);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(budget.balance).toBe(2);
    expect(budget.tryWithdraw()).toBe(true);
  });

  it('bounds the retries of a full outage by N × percentCanRetry + minRetriesPerSecond × ttl', async () => {
    const budget = make({ percentCanRetry: 0.2, ttlMs: 10_000, minRetriesPerSecond: 10 });
    const calls = 1_000;
    let retries = 0;
    // Every call fails and retries for as long as the budget lets it, 200 calls a second.
    for (let i = 0; i < calls; i++) {
      budget.recordCall();
      while (budget.tryWithdraw()) retries++;
      await vi.advanceTimersByTimeAsync(5);
    }
    expect(retries).toBeLessThanOrEqual(calls * 0.2 + 10 * 10);
    expect(retries).toBe(300);
  });

  it('keeps the retry rate of a long outage at percentCanRetry of the calls plus the reserve', async () => {
    const budget = make({ percentCanRetry: 0.1, ttlMs: 1_000, minRetriesPerSecond: 5 });
    let retries = 0;
    // 100 calls a second for 30 s: at most 10 + 5 retries per 1 s window, 31 windows touched.
    for (let i = 0; i < 3_000; i++) {
      budget.recordCall();
      while (budget.tryWithdraw()) retries++;
      await vi.advanceTimersByTimeAsync(10);
    }
    expect(retries).toBeLessThanOrEqual(31 * (100 * 0.1 + 5));
    expect(retries).toBeGreaterThan(30 * 10);
  });

  it('rejects bad options naming them', () => {
    expect(() => new RetryBudget({ percentCanRetry: 0 })).toThrow(
      'percentCanRetry must be a number in (0, 1], got 0',
    );
    expect(() => new RetryBudget({ percentCanRetry: 1.5 })).toThrow(/percentCanRetry.*1.5/);
    expect(() => new RetryBudget({ ttlMs: 0 })).toThrow('ttlMs must be a finite number > 0, got 0');
    expect(() => new RetryBudget({ minRetriesPerSecond: -1 })).toThrow(
      'minRetriesPerSecond must be a finite number >= 0, got -1',
    );
    expect(() => new RetryBudget({ name: '' })).toThrow(/name must be a non-empty string/);
  });
});

describe('RetryBudget gauge', () => {
  it('reports its balance as resilience.retry_budget.tokens until disposed', async () => {
    let otel = installTestTelemetry();
    try {
      const budget = new RetryBudget({ name: 'payments-api', minRetriesPerSecond: 1 });
      budget.tryWithdraw();
      const data = await otel.collect();
      const gauge = data.find((m) => m.descriptor.name === 'resilience.retry_budget.tokens');
      expect(gauge?.descriptor.unit).toBe('{token}');
      expect(points(data, 'resilience.retry_budget.tokens')).toEqual([
        { attributes: { 'resilience.name': 'payments-api' }, value: 9 },
      ]);
      budget.dispose();
      budget.dispose();
      // A cumulative SDK keeps reporting a series it saw once, so look from a fresh SDK.
      await otel.uninstall();
      otel = installTestTelemetry();
      const other = new RetryBudget({ name: 'other-api' });
      expect(points(await otel.collect(), 'resilience.retry_budget.tokens')).toEqual([
        { attributes: { 'resilience.name': 'other-api' }, value: 100 },
      ]);
      other.dispose();
    } finally {
      await otel.uninstall();
    }
  });
});
