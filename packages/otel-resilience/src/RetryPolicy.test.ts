import { diag, SpanStatusCode, trace } from '@opentelemetry/api';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { aggressiveBackoff, constantBackoff, exponentialBackoff } from './backoff/Backoff.js';
import { runWithDeadline } from './DeadlineContext.js';
import type { ExecuteContext } from './ExecuteContext.js';
import { AbortedError, isAbortedError } from './errors/AbortedError.js';
import { RetryBudget } from './RetryBudget.js';
import { type GiveUpEvent, type RetryEvent, RetryPolicy, retry } from './RetryPolicy.js';
import { timeout } from './TimeoutPolicy.js';
import { series } from './telemetry/metrics.js';
import { points, useTestTelemetry } from './testing/otel.js';
import { wrap } from './wrap.js';

const withCode = (code: string) => Object.assign(new Error(`failed: ${code}`), { code });
const httpError = (status: number, headers: Record<string, string> = {}) =>
  Object.assign(new Error(`Request failed with status code ${status}`), {
    response: { status, headers },
  });
/** Makes the deterministic curve exact under full and equal jitter. */
const top = () => 1;

/** A function failing with `errors` in turn, then returning 'ok'; it logs when it was called. */
function script(...errors: unknown[]) {
  const calls: { at: number; attempt: number }[] = [];
  const fn = (ctx: ExecuteContext) => {
    calls.push({ at: performance.now(), attempt: ctx.attempt });
    const next = errors[calls.length - 1];
    return next === undefined ? Promise.resolve('ok') : Promise.reject(next);
  };
  const startedAt = performance.now();
  const times = () => calls.map((c) => c.at - startedAt);
  return { fn, calls, times };
}

function decisions(name: string, decision: string, reason: string, category: string) {
  return series('retryDecisions', {
    'resilience.name': name,
    'resilience.retry.decision': decision,
    'resilience.retry.reason': reason,
    'resilience.error.category': category,
  }).value;
}

describe('retry', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2026-01-01T12:00:00Z'));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('returns the first success without waiting, creating a timer or an AbortController', async () => {
    const spy = vi.spyOn(globalThis, 'AbortController');
    const { fn, calls } = script();
    await expect(retry().execute(fn)).resolves.toBe('ok');
    expect(calls.map((c) => c.attempt)).toEqual([1]);
    expect(vi.getTimerCount()).toBe(0);
    expect(spy).not.toHaveBeenCalled();
    spy.mockRestore();
  });

  it('waits the exact backoff sequence between attempts and numbers the attempts', async () => {
    const policy = retry({
      maxAttempts: 4,
      backoff: exponentialBackoff({ initialDelayMs: 100 }),
    });
    const { fn, calls, times } = script(withCode('ECONNRESET'), withCode('EPIPE'), 42);
    const result = policy.execute(fn);
    await vi.runAllTimersAsync();
    await expect(result).resolves.toBe('ok');
    expect(times()).toEqual([0, 100, 300, 700]);
    expect(calls.map((c) => c.attempt)).toEqual([1, 2, 3, 4]);
  });

  it('uses the decision matrix backoffs by default (transient: exponential, full jitter)', async () => {
    const policy = retry({ maxAttempts: 4, random: () => 0.5 });
    const e = withCode('ECONNREFUSED');
    const { fn, times } = script(e, e, e);
    const result = policy.execute(fn);
    await vi.runAllTimersAsync();
    await expect(result).resolves.toBe('ok');
    expect(times()).toEqual([0, 50, 150, 350]);
  });

  it('rethrows the last error unchanged when the attempts run out', async () => {
    const last = withCode('ECONNRESET');
    const { fn, calls } = script(withCode('ECONNRESET'), withCode('ECONNRESET'), last);
    const before = decisions('retry', 'give_up', 'max_attempts', 'transient');
    const result = retry({ backoff: constantBackoff(10) }).execute(fn);
    const assertion = expect(result).rejects.toBe(last);
    await vi.runAllTimersAsync();
    await assertion;
    expect(calls).toHaveLength(3);
    expect(decisions('retry', 'give_up', 'max_attempts', 'transient')).toBe(before + 1);
    expect(vi.getTimerCount()).toBe(0);
  });

  describe('results', () => {
    it('retries unacceptable results and returns the first acceptable one', async () => {
      const responses = [{ status: 503 }, { status: 503 }, { status: 200 }];
      const seen: unknown[] = [];
      const policy = retry({
        backoff: constantBackoff(10),
        retryOnResult: (r, ctx) => {
          seen.push(ctx.attempt);
          return (r as { status: number }).status >= 500;
        },
      });
      const result = policy.execute(() => responses.shift());
      await vi.runAllTimersAsync();
      await expect(result).resolves.toEqual({ status: 200 });
      expect(seen).toEqual([1, 2, 3]);
    });

    it('resolves with the last result when the retries run out, and says so', async () => {
      const policy = retry({
        name: 'results-give-up',
        maxAttempts: 2,
        backoff: constantBackoff(10),
        retryOnResult: () => true,
      });
      const retries: RetryEvent[] = [];
      const giveUps: GiveUpEvent[] = [];
      policy.onRetry((e) => retries.push(e));
      policy.onGiveUp((e) => giveUps.push(e));
      let n = 0;
      const result = policy.execute(() => ++n);
      await vi.runAllTimersAsync();
      await expect(result).resolves.toBe(2);
      const classification = { category: 'unknown', retryable: true, errorType: '_OTHER' };
      expect(retries).toEqual([{ attempt: 1, delayMs: 10, result: 1, classification }]);
      expect(giveUps).toEqual([{ attempts: 2, reason: 'max_attempts', result: 2, classification }]);
    });

    it('accepts the result when the predicate throws', async () => {
      const report = vi.spyOn(diag, 'error').mockImplementation(() => {});
      const policy = retry({
        retryOnResult: () => {
          throw new Error('bad predicate');
        },
      });
      await expect(policy.execute(() => 'value')).resolves.toBe('value');
      expect(report).toHaveBeenCalledOnce();
      report.mockRestore();
    });
  });

  describe('Retry-After', () => {
    it('never retries before a Retry-After header in seconds', async () => {
      const policy = retry({ random: top });
      const { fn, times } = script(httpError(429, { 'retry-after': '3' }));
      const result = policy.execute(fn);
      await vi.advanceTimersByTimeAsync(2_999);
      expect(times()).toEqual([0]);
      await vi.advanceTimersByTimeAsync(1);
      await expect(result).resolves.toBe('ok');
      expect(times()).toEqual([0, 3_000]);
    });

    it('reads an HTTP-date Retry-After and a retryAfter carried on the error', async () => {
      const at = new Date(Date.now() + 5_000).toUTCString();
      const hinted = Object.assign(withCode('ECONNRESET'), { retryAfter: 2_500 });
      const { fn, times } = script(httpError(503, { 'Retry-After': at }), hinted);
      const result = retry({ random: top }).execute(fn);
      await vi.runAllTimersAsync();
      await expect(result).resolves.toBe('ok');
      expect(times()).toEqual([0, 5_000, 7_500]);
    });

    it('waits the backoff when it is longer than the hint', async () => {
      const hinted = Object.assign(withCode('ECONNRESET'), { retryAfterMs: 10 });
      const { fn, times } = script(hinted);
      const result = retry({ backoff: constantBackoff(500) }).execute(fn);
      await vi.runAllTimersAsync();
      await expect(result).resolves.toBe('ok');
      expect(times()).toEqual([0, 500]);
    });

    it('gives up at once when the hint is longer than maxRetryAfterMs', async () => {
      const error = httpError(429, { 'retry-after': '120' });
      const { fn, calls } = script(error);
      const giveUps: GiveUpEvent[] = [];
      const policy = retry({ name: 'too-long' });
      policy.onGiveUp((e) => giveUps.push(e));
      await expect(policy.execute(fn)).rejects.toBe(error);
      expect(calls).toHaveLength(1);
      expect(giveUps.map((e) => e.reason)).toEqual(['retry_after_too_long']);
      expect(decisions('too-long', 'skipped', 'retry_after_too_long', 'rate_limited')).toBe(1);
      expect(vi.getTimerCount()).toBe(0);

      const patient = retry({ maxRetryAfterMs: Number.POSITIVE_INFINITY });
      const second = script(httpError(429, { 'retry-after': '120' }));
      const result = patient.execute(second.fn);
      await vi.runAllTimersAsync();
      await expect(result).resolves.toBe('ok');
      expect(second.times()).toEqual([0, 120_000]);
    });

    it('gives up when the hint or the backoff would end past the caller deadline', async () => {
      const policy = retry({ name: 'deadline-retry', backoff: constantBackoff(100) });
      const hinted = script(httpError(503, { 'retry-after': '2' }));
      await expect(
        runWithDeadline({ timeoutMs: 1_000 }, () => policy.execute(hinted.fn)),
      ).rejects.toMatchObject({ response: { status: 503 } });
      expect(hinted.calls).toHaveLength(1);

      const slow = script(withCode('ECONNRESET'), withCode('ECONNRESET'));
      const result = runWithDeadline({ timeoutMs: 150 }, () => policy.execute(slow.fn));
      const assertion = expect(result).rejects.toMatchObject({ code: 'ECONNRESET' });
      await vi.runAllTimersAsync();
      await assertion;
      expect(slow.times()).toEqual([0, 100]);
      expect(decisions('deadline-retry', 'skipped', 'deadline', 'transient')).toBe(2);
    });
  });

  describe('per-category strategies', () => {
    it('backs off 3^n on rate limits and linearly on timeouts', async () => {
      const limited = script(httpError(429), httpError(429), httpError(429));
      const first = retry({ maxAttempts: 4, random: top }).execute(limited.fn);
      await vi.runAllTimersAsync();
      await expect(first).resolves.toBe('ok');
      expect(limited.times()).toEqual([0, 1_000, 4_000, 13_000]);

      const slow = script(withCode('ETIMEDOUT'), withCode('ETIMEDOUT'), withCode('ETIMEDOUT'));
      const second = retry({ maxAttempts: 4, random: top }).execute(slow.fn);
      await vi.runAllTimersAsync();
      await expect(second).resolves.toBe('ok');
      expect(slow.times()).toEqual([0, 100, 300, 600]);
    });

    it('never retries data and configuration errors', async () => {
      const policy = retry({ name: 'never' });
      for (const error of [httpError(400), httpError(422), httpError(401), withCode('EACCES')]) {
        const { fn, calls } = script(error);
        await expect(policy.execute(fn)).rejects.toBe(error);
        expect(calls).toHaveLength(1);
      }
      expect(decisions('never', 'skipped', 'non_retryable', 'data')).toBe(2);
      expect(decisions('never', 'skipped', 'non_retryable', 'configuration')).toBe(2);
    });

    it('makes at most 2 attempts on system errors', async () => {
      const e = withCode('EMFILE');
      const { fn, calls } = script(e, e, e, e);
      const result = retry({ maxAttempts: 5, backoff: constantBackoff(1) }).execute(fn);
      const assertion = expect(result).rejects.toBe(e);
      await vi.runAllTimersAsync();
      await assertion;
      expect(calls).toHaveLength(2);
    });

    it('lets strategies override the matrix and the backoff option replace its backoffs', async () => {
      const policy = retry({
        maxAttempts: 2,
        backoff: constantBackoff(10),
        strategies: {
          data: { retry: true },
          transient: { maxAttempts: 4, backoff: constantBackoff(1) },
        },
      });
      const data = script(httpError(404));
      const r1 = policy.execute(data.fn);
      await vi.runAllTimersAsync();
      await expect(r1).resolves.toBe('ok');
      expect(data.times()).toEqual([0, 10]);

      const e = withCode('ECONNRESET');
      const transient = script(e, e, e);
      const r2 = policy.execute(transient.fn);
      await vi.runAllTimersAsync();
      await expect(r2).resolves.toBe('ok');
      expect(transient.times()).toEqual([0, 1, 2, 3]);

      const limited = script(httpError(429));
      const r3 = policy.execute(limited.fn);
      await vi.runAllTimersAsync();
      await expect(r3).resolves.toBe('ok');
      expect(limited.times()).toEqual([0, 10]);
    });

    it('lets retryOn override the classification, and defers when it returns undefined', async () => {
      const policy = retry({
        backoff: constantBackoff(1),
        retryOn: (error, classification) =>
          (error as { code?: string }).code === 'ECONNRESET'
            ? false
            : classification.category === 'data'
              ? true
              : undefined,
      });
      const reset = script(withCode('ECONNRESET'));
      await expect(policy.execute(reset.fn)).rejects.toMatchObject({ code: 'ECONNRESET' });
      expect(reset.calls).toHaveLength(1);

      const data = script(httpError(400));
      const r = policy.execute(data.fn);
      await vi.runAllTimersAsync();
      await expect(r).resolves.toBe('ok');

      const refused = script(withCode('ECONNREFUSED'));
      const r2 = policy.execute(refused.fn);
      await vi.runAllTimersAsync();
      await expect(r2).resolves.toBe('ok');
    });

    it('defers to the classification when retryOn throws', async () => {
      const report = vi.spyOn(diag, 'error').mockImplementation(() => {});
      const policy = retry({
        backoff: constantBackoff(1),
        retryOn: () => {
          throw new Error('bad predicate');
        },
      });
      const { fn, calls } = script(withCode('ECONNRESET'));
      const result = policy.execute(fn);
      await vi.runAllTimersAsync();
      await expect(result).resolves.toBe('ok');
      expect(calls).toHaveLength(2);
      expect(report).toHaveBeenCalled();
      report.mockRestore();
    });
  });

  describe('retry budget', () => {
    it('skips the retry when the budget is empty, observably', async () => {
      const budget = new RetryBudget({ name: 'empty', minRetriesPerSecond: 0 });
      try {
        const policy = retry({ name: 'budgeted', budget });
        const giveUps: GiveUpEvent[] = [];
        policy.onGiveUp((e) => giveUps.push(e));
        const error = withCode('ECONNRESET');
        const { fn, calls } = script(error);
        await expect(policy.execute(fn)).rejects.toBe(error);
        expect(calls).toHaveLength(1);
        expect(giveUps).toEqual([
          {
            attempts: 1,
            reason: 'budget',
            error,
            classification: { category: 'transient', retryable: true, errorType: 'ECONNRESET' },
          },
        ]);
        expect(decisions('budgeted', 'skipped', 'budget', 'transient')).toBe(1);
      } finally {
        budget.dispose();
      }
    });

    it('spends no token on a retry skipped for another reason', async () => {
      const budget = new RetryBudget({ minRetriesPerSecond: 0.1 });
      try {
        await expect(retry({ budget }).execute(script(httpError(400)).fn)).rejects.toThrow();
        expect(budget.balance).toBe(1);
      } finally {
        budget.dispose();
      }
    });

    it('uses the budget of the deadline scope unless told not to', async () => {
      const budget = new RetryBudget({ minRetriesPerSecond: 0 });
      try {
        const scoped = script(withCode('ECONNRESET'));
        await expect(
          runWithDeadline({ retryBudget: budget }, () => retry().execute(scoped.fn)),
        ).rejects.toThrow();
        expect(scoped.calls).toHaveLength(1);

        const unbudgeted = script(withCode('ECONNRESET'));
        const result = runWithDeadline({ retryBudget: budget }, () =>
          retry({ budget: null, backoff: constantBackoff(1) }).execute(unbudgeted.fn),
        );
        await vi.runAllTimersAsync();
        await expect(result).resolves.toBe('ok');
      } finally {
        budget.dispose();
      }
    });

    it('bounds a full outage to N × percentCanRetry + minRetriesPerSecond × ttl retries', async () => {
      const budget = new RetryBudget({
        percentCanRetry: 0.2,
        ttlMs: 10_000,
        minRetriesPerSecond: 1,
      });
      try {
        const policy = retry({
          maxAttempts: Number.POSITIVE_INFINITY,
          backoff: constantBackoff(0),
          budget,
        });
        let attempts = 0;
        const down = () => {
          attempts++;
          return Promise.reject(withCode('ECONNREFUSED'));
        };
        const calls = 200;
        for (let i = 0; i < calls; i++) {
          await expect(policy.execute(down)).rejects.toThrow();
          await vi.advanceTimersByTimeAsync(20);
        }
        expect(attempts - calls).toBeLessThanOrEqual(calls * 0.2 + 1 * 10);
        expect(attempts - calls).toBe(50);
      } finally {
        budget.dispose();
      }
    });
  });

  describe('events', () => {
    it('reports each retry and the give-up', async () => {
      const policy = retry({ maxAttempts: 2, backoff: constantBackoff(25) });
      const retries: RetryEvent[] = [];
      const giveUps: GiveUpEvent[] = [];
      policy.onRetry((e) => retries.push(e));
      const subscription = policy.onGiveUp((e) => giveUps.push(e));
      const first = withCode('ECONNRESET');
      const last = withCode('ECONNREFUSED');
      const result = policy.execute(script(first, last).fn);
      const assertion = expect(result).rejects.toBe(last);
      await vi.runAllTimersAsync();
      await assertion;
      expect(retries).toEqual([
        {
          attempt: 1,
          delayMs: 25,
          error: first,
          classification: { category: 'transient', retryable: true, errorType: 'ECONNRESET' },
        },
      ]);
      expect(giveUps).toEqual([
        {
          attempts: 2,
          reason: 'max_attempts',
          error: last,
          classification: { category: 'transient', retryable: true, errorType: 'ECONNREFUSED' },
        },
      ]);
      subscription.dispose();
      await expect(policy.execute(script(httpError(400)).fn)).rejects.toThrow();
      expect(giveUps).toHaveLength(1);
    });

    it('is not broken by a throwing listener', async () => {
      const report = vi.spyOn(diag, 'error').mockImplementation(() => {});
      const policy = retry({ backoff: constantBackoff(5) });
      policy.onRetry(() => {
        throw new Error('listener bug');
      });
      policy.onGiveUp(() => {
        throw new Error('listener bug');
      });
      const ok = policy.execute(script(withCode('ECONNRESET')).fn);
      await vi.runAllTimersAsync();
      await expect(ok).resolves.toBe('ok');
      const error = httpError(400);
      await expect(policy.execute(script(error).fn)).rejects.toBe(error);
      expect(report).toHaveBeenCalledTimes(2);
      report.mockRestore();
    });
  });

  describe('cancellation', () => {
    it('stops the wait at once when the caller aborts, leaking no timer or listener', async () => {
      const controller = new AbortController();
      const remove = vi.spyOn(controller.signal, 'removeEventListener');
      const policy = retry({ backoff: constantBackoff(10_000) });
      const giveUps: GiveUpEvent[] = [];
      policy.onGiveUp((e) => giveUps.push(e));
      const { fn, calls } = script(withCode('ECONNRESET'));
      const result = policy.execute(fn, controller.signal);
      await vi.advanceTimersByTimeAsync(0);
      expect(vi.getTimerCount()).toBe(1);
      const reason = new Error('client went away');
      controller.abort(reason);
      await expect(result).rejects.toSatisfy(
        (e) => isAbortedError(e) && e instanceof AbortedError && e.cause === reason,
      );
      expect(vi.getTimerCount()).toBe(0);
      expect(calls).toHaveLength(1);
      expect(giveUps.map((e) => e.reason)).toEqual(['aborted']);
      // Once-listeners are removed by the abort itself; on a normal wake-up we remove ours.
      const second = new AbortController();
      const removeSecond = vi.spyOn(second.signal, 'removeEventListener');
      const ok = policy.execute(script(withCode('ECONNRESET')).fn, second.signal);
      await vi.runAllTimersAsync();
      await expect(ok).resolves.toBe('ok');
      expect(removeSecond).toHaveBeenCalledOnce();
      expect(remove).not.toHaveBeenCalled();
    });

    it('does not retry once the caller has aborted and rethrows the last error', async () => {
      const controller = new AbortController();
      const policy = retry({ name: 'aborted-before', backoff: constantBackoff(10) });
      const error = withCode('ECONNRESET');
      const result = policy.execute(() => {
        controller.abort();
        return Promise.reject(error);
      }, controller.signal);
      await expect(result).rejects.toBe(error);
      expect(decisions('aborted-before', 'skipped', 'aborted', 'transient')).toBe(1);
    });

    it('stops waiting when an outer timeout fires', async () => {
      const policy = wrap(timeout(500), retry({ backoff: constantBackoff(10_000) }));
      const { fn, calls } = script(withCode('ECONNRESET'));
      const result = policy.execute(fn);
      const assertion = expect(result).rejects.toSatisfy(
        (e) => (e as Error).name === 'TimeoutExceededError',
      );
      await vi.advanceTimersByTimeAsync(500);
      await assertion;
      expect(calls).toHaveLength(1);
      expect(vi.getTimerCount()).toBe(0);
    });
  });

  it('rejects bad options naming the option and the value', () => {
    expect(() => retry({ maxAttempts: 0 })).toThrow(
      'maxAttempts must be an integer >= 1 (or Infinity), got 0',
    );
    expect(() => retry({ maxAttempts: 1.5 })).toThrow(/maxAttempts.*got 1.5/);
    expect(() => retry({ maxAttempts: Number.NaN })).toThrow(/maxAttempts.*got NaN/);
    expect(() => retry({ backoff: {} as never })).toThrow(/backoff must be a Backoff/);
    expect(() => retry({ strategies: { flaky: {} } as never })).toThrow(
      /strategies has an unknown category "flaky"/,
    );
    expect(() => retry({ strategies: { transient: { maxAttempts: 0 } } })).toThrow(
      'strategies.transient.maxAttempts must be an integer >= 1 (or Infinity), got 0',
    );
    expect(() => retry({ strategies: { data: { retry: 'yes' as never } } })).toThrow(
      'strategies.data.retry must be a boolean, got yes',
    );
    expect(() => retry({ strategies: { rate_limited: { backoff: (() => 1) as never } } })).toThrow(
      /strategies.rate_limited.backoff must be a Backoff/,
    );
    expect(() => retry({ retryOn: true as never })).toThrow('retryOn must be a function, got true');
    expect(() => retry({ retryOnResult: 1 as never })).toThrow(/retryOnResult must be a function/);
    expect(() => retry({ maxRetryAfterMs: -1 })).toThrow(
      'maxRetryAfterMs must be a number >= 0 (or Infinity), got -1',
    );
    expect(() => retry({ budget: 42 as never })).toThrow(
      'budget must be a RetryBudget or null, got 42',
    );
    expect(() => retry({ random: 'x' as never })).toThrow('random must be a function, got "x"');
    expect(() => retry({ name: '' })).toThrow(/name must be a non-empty string/);
    expect(retry({ maxAttempts: Number.POSITIVE_INFINITY })).toBeInstanceOf(RetryPolicy);
    expect(retry()).toMatchObject({ name: 'retry', maxAttempts: 3, maxRetryAfterMs: 60_000 });
  });
});

describe('retry with real timers', () => {
  it('leaves no timer behind after an abort, so the event loop can finish', async () => {
    const timers = () =>
      process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
    const controller = new AbortController();
    const result = retry({ backoff: constantBackoff(60_000) }).execute(
      () => Promise.reject(withCode('ECONNRESET')),
      controller.signal,
    );
    await new Promise((resolve) => setTimeout(resolve, 10));
    // Counted just before and just after the abort: timers other tests left behind may expire
    // at any time, but not within these few microtasks.
    const waiting = timers();
    controller.abort();
    await expect(result).rejects.toBeInstanceOf(AbortedError);
    expect(timers()).toBe(waiting - 1);
  });
});

describe('retry telemetry', () => {
  const otel = useTestTelemetry();

  const parentOf = (span: unknown) =>
    (span as { parentSpanContext?: { spanId: string } }).parentSpanContext?.spanId;

  it('emits one call span with an attempt span per attempt, user spans nested in them', async () => {
    const policy = retry({ name: 'inventory', backoff: constantBackoff(0) });
    const userParents: (string | undefined)[] = [];
    const { fn } = script(withCode('ECONNRESET'), httpError(503));
    await expect(
      policy.execute((ctx) => {
        const inner = trace.getTracer('user').startSpan('user work');
        userParents.push(parentOf(inner));
        inner.end();
        return fn(ctx);
      }),
    ).resolves.toBe('ok');

    const spans = otel.spans();
    const call = spans.find((s) => s.name === 'resilience inventory');
    const attempts = spans.filter((s) => s.name === 'resilience inventory attempt');
    expect(spans).toHaveLength(7);
    expect(call?.attributes).toEqual({
      'resilience.name': 'inventory',
      'resilience.outcome': 'success_after_retry',
      'resilience.attempts': 3,
    });
    expect(call?.status.code).toBe(SpanStatusCode.UNSET);
    expect(attempts.map((s) => parentOf(s))).toEqual(Array(3).fill(call?.spanContext().spanId));
    expect(userParents).toEqual(attempts.map((s) => s.spanContext().spanId));
    expect(attempts.map((s) => [s.attributes, s.status.code])).toEqual([
      [
        {
          'resilience.name': 'inventory',
          'resilience.attempt': 1,
          'error.type': 'ECONNRESET',
          'resilience.error.category': 'transient',
        },
        SpanStatusCode.ERROR,
      ],
      [
        {
          'resilience.name': 'inventory',
          'resilience.attempt': 2,
          'error.type': '503',
          'resilience.error.category': 'transient',
        },
        SpanStatusCode.ERROR,
      ],
      [{ 'resilience.name': 'inventory', 'resilience.attempt': 3 }, SpanStatusCode.UNSET],
    ]);
    expect(attempts.every((s) => s.events.length === 0 && s.status.message === undefined)).toBe(
      true,
    );
    expect(call?.events.map((e) => [e.name, e.attributes])).toEqual([
      [
        'resilience.retry',
        {
          'resilience.attempt': 1,
          'resilience.retry.reason': 'retryable',
          'error.type': 'ECONNRESET',
          'resilience.error.category': 'transient',
          'resilience.retry.delay_ms': 0,
        },
      ],
      [
        'resilience.retry',
        {
          'resilience.attempt': 2,
          'resilience.retry.reason': 'retryable',
          'error.type': '503',
          'resilience.error.category': 'transient',
          'resilience.retry.delay_ms': 0,
        },
      ],
    ]);

    const data = await otel.collect();
    expect(
      points(data, 'resilience.retry.decisions').filter(
        (p) => p.attributes['resilience.name'] === 'inventory',
      ),
    ).toEqual([
      {
        attributes: {
          'resilience.name': 'inventory',
          'resilience.retry.decision': 'retry',
          'resilience.retry.reason': 'retryable',
          'resilience.error.category': 'transient',
        },
        value: 2,
      },
    ]);
    expect(
      points(data, 'resilience.attempt.duration').map((p) => p.attributes['resilience.outcome']),
    ).toEqual(['failure', 'failure', 'success']);
  });

  it('marks the call failed only when it finally fails, with a give-up event and no message', async () => {
    vi.useFakeTimers();
    try {
      const policy = wrap({ name: 'checkout' }, retry({ maxAttempts: 2, random: top }));
      const secret = 'token=s3cr3t';
      const result = policy.execute(() =>
        Promise.reject(Object.assign(new Error(secret), { code: 'ETIMEDOUT' })),
      );
      const assertion = expect(result).rejects.toThrow(secret);
      await vi.runAllTimersAsync();
      await assertion;
    } finally {
      vi.useRealTimers();
    }
    const spans = otel.spans();
    const call = spans.find((s) => s.name === 'resilience checkout');
    expect(spans.map((s) => s.name).sort()).toEqual([
      'resilience checkout',
      'resilience checkout attempt',
      'resilience checkout attempt',
    ]);
    expect(call?.status).toEqual({ code: SpanStatusCode.ERROR });
    expect(call?.attributes).toEqual({
      'resilience.name': 'checkout',
      'resilience.outcome': 'failure',
      'resilience.attempts': 2,
      'error.type': 'ETIMEDOUT',
      'resilience.error.category': 'timeout',
    });
    expect(call?.events.map((e) => [e.name, e.attributes])).toEqual([
      [
        'resilience.retry',
        {
          'resilience.attempt': 1,
          'resilience.retry.reason': 'retryable',
          'error.type': 'ETIMEDOUT',
          'resilience.error.category': 'timeout',
          'resilience.retry.delay_ms': 100,
        },
      ],
      [
        'resilience.retry.give_up',
        {
          'resilience.attempt': 2,
          'resilience.retry.reason': 'max_attempts',
          'error.type': 'ETIMEDOUT',
          'resilience.error.category': 'timeout',
        },
      ],
    ]);
    expect(JSON.stringify(spans.map((s) => [s.attributes, s.events, s.status]))).not.toContain(
      's3cr3t',
    );
  });

  it('reports a skipped retry as a span event', async () => {
    await expect(
      retry({ name: 'skipper' }).execute(() => Promise.reject(httpError(404))),
    ).rejects.toThrow();
    const call = otel.spans().find((s) => s.name === 'resilience skipper');
    expect(call?.events.map((e) => [e.name, e.attributes])).toEqual([
      [
        'resilience.retry.skipped',
        {
          'resilience.attempt': 1,
          'resilience.retry.reason': 'non_retryable',
          'error.type': '404',
          'resilience.error.category': 'data',
        },
      ],
    ]);
  });
});

describe('aggressive backoff factory', () => {
  it('is what the rate-limit strategy uses', () => {
    expect(aggressiveBackoff().delayMs(3, 0)).toBe(900);
  });
});
