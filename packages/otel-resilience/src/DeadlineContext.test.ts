import { AsyncLocalStorage } from 'node:async_hooks';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { constantBackoff } from './backoff/ConstantBackoff.js';
import {
  currentDeadlineScope,
  deadlineScopeWithin,
  remainingTimeMs,
  runWithDeadline,
} from './DeadlineContext.js';
import { isAbortedError } from './errors/AbortedError.js';
import { RetryBudget } from './RetryBudget.js';
import { retry } from './RetryPolicy.js';
import { timeout } from './TimeoutPolicy.js';
import { wrap } from './wrap.js';

describe('deadline context', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('is absent outside any scope', () => {
    expect(currentDeadlineScope()).toBeUndefined();
    expect(remainingTimeMs()).toBe(Number.POSITIVE_INFINITY);
  });

  it('carries the deadline across awaits and counts down', async () => {
    await runWithDeadline({ timeoutMs: 1_000 }, async () => {
      expect(remainingTimeMs()).toBe(1_000);
      await vi.advanceTimersByTimeAsync(300);
      expect(remainingTimeMs()).toBe(700);
      await vi.advanceTimersByTimeAsync(5_000);
      expect(remainingTimeMs()).toBe(0);
    });
  });

  it('lets a nested scope shorten the deadline but never extend it', () => {
    runWithDeadline({ timeoutMs: 500 }, () => {
      runWithDeadline({ timeoutMs: 2_000 }, () => expect(remainingTimeMs()).toBe(500));
      runWithDeadline({ timeoutMs: 100 }, () => expect(remainingTimeMs()).toBe(100));
      runWithDeadline({}, () => expect(remainingTimeMs()).toBe(500));
    });
  });

  it('inherits the signal and lets policies stop when the caller gives up', async () => {
    const caller = new AbortController();
    const policy = timeout(10_000);
    const result = runWithDeadline({ signal: caller.signal }, () => {
      expect(currentDeadlineScope()?.signal).toBe(caller.signal);
      return runWithDeadline({ timeoutMs: 5_000 }, () =>
        policy.execute(
          ({ signal }) =>
            new Promise((_, reject) =>
              signal.addEventListener('abort', () => reject(signal.reason)),
            ),
        ),
      );
    });
    caller.abort(new Error('client disconnected'));
    await expect(result).rejects.toThrow('client disconnected');
  });

  it('refuses to start a call whose scope signal already aborted', async () => {
    const fn = vi.fn();
    const result = runWithDeadline({ signal: AbortSignal.abort('gone') }, () =>
      timeout(100).execute(fn),
    );
    await expect(result).rejects.toSatisfy(isAbortedError);
    expect(fn).not.toHaveBeenCalled();
  });

  it('keeps its store on a global symbol, so every copy of the package (ESM and CJS) shares it', () => {
    const shared = (globalThis as Record<symbol, unknown>)[
      Symbol.for('otel-resilience.deadline-scope')
    ] as AsyncLocalStorage<unknown>;
    expect(shared).toBeInstanceOf(AsyncLocalStorage);
    runWithDeadline({ timeoutMs: 1_000 }, () => {
      expect(shared.getStore()).toBe(currentDeadlineScope());
    });
  });

  it('rejects a bad timeout naming it', () => {
    expect(() => runWithDeadline({ timeoutMs: -5 }, () => 1)).toThrow(
      /timeoutMs must be a number >= 0/,
    );
  });

  it('builds the scope runWithDeadline would enter without entering it', () => {
    const budget = new RetryBudget();
    runWithDeadline({ timeoutMs: 500, retryBudget: budget }, () => {
      const within = deadlineScopeWithin({ timeoutMs: 2_000 });
      expect(within.deadline).toBe(currentDeadlineScope()?.deadline);
      expect(within.retryBudget).toBe(budget);
      expect(deadlineScopeWithin({ timeoutMs: 100 }).deadline - performance.now()).toBe(100);
    });
    expect(() => deadlineScopeWithin({ timeoutMs: Number.NaN })).toThrow(/timeoutMs/);
    budget.dispose();
  });
});

describe('a call given its own scope (execute options)', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());
  const failing = () => Promise.reject(Object.assign(new Error('reset'), { code: 'ECONNRESET' }));

  it("stops retrying at the scope's deadline, bounds attempts by it, and enters no scope", async () => {
    const seen: unknown[] = [];
    const policy = wrap(
      retry({ maxAttempts: 10, backoff: constantBackoff(100), budget: null }),
      timeout(10_000),
    );
    const scope = deadlineScopeWithin({ timeoutMs: 250 });
    const call = policy
      .execute(
        () => {
          seen.push(currentDeadlineScope());
          return failing();
        },
        { scope },
      )
      .catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(1_000);
    await call;
    // Attempts at 0, 100 and 200 ms; a fourth at 300 ms would start after the deadline.
    expect(seen).toEqual([undefined, undefined, undefined]);
  });

  it("draws retries from the scope's budget, and stops when the scope's signal aborts", async () => {
    const budget = new RetryBudget({ percentCanRetry: 0.01, minRetriesPerSecond: 0.1 });
    let attempts = 0;
    const policy = retry({ maxAttempts: 5, backoff: constantBackoff(0) });
    await policy
      .execute(
        () => {
          attempts++;
          return failing();
        },
        { scope: deadlineScopeWithin({ retryBudget: budget }) },
      )
      .catch(() => undefined);
    // The reserve holds 1 token (0.1/s over 10 s): one retry, then the budget refuses.
    expect(attempts).toBe(2);
    budget.dispose();

    const caller = new AbortController();
    caller.abort('gone');
    const refused = await retry({ budget: null })
      .execute(() => 1, { scope: deadlineScopeWithin({ signal: caller.signal }) })
      .catch((error: unknown) => error);
    expect(isAbortedError(refused)).toBe(true);
  });

  it('rejects a second argument that is neither a signal nor options, naming it', async () => {
    await expect(timeout(10).execute(() => 1, 42 as never)).rejects.toThrow(
      /options must be an AbortSignal or \{ signal, scope \}, got 42/,
    );
  });
});
