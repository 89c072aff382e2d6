import { afterEach, beforeEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import type { CallContext, PolicyFunction } from './ExecuteContext.js';
import { AbortedError } from './errors/AbortedError.js';
import {
  type FallbackContext,
  type FallbackPolicy,
  fallback,
  withFallback,
} from './FallbackPolicy.js';
import { invoke, PolicyBase, RUN } from './Policy.js';
import { timeout } from './TimeoutPolicy.js';
import { EVENT_FALLBACK } from './telemetry/attributes.js';
import { series } from './telemetry/metrics.js';
import { points, useTestTelemetry } from './testing/otel.js';
import { wrap } from './wrap.js';

/** A minimal retry (the real one lives in RetryPolicy.ts): retries retryable failures at once. */
class TestRetry extends PolicyBase {
  constructor(private readonly maxAttempts: number) {
    super({ name: 'test-retry' }, 'retry');
  }

  async [RUN]<T>(fn: PolicyFunction<T>, ctx: CallContext): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const startMs = performance.now();
      try {
        const value = await invoke(fn, ctx.withAttempt(attempt));
        ctx.execution.recordAttempt(startMs, undefined, false);
        return value;
      } catch (error) {
        ctx.execution.recordAttempt(startMs, error, true);
        if (attempt >= this.maxAttempts || !ctx.execution.classify(error).retryable) throw error;
      }
    }
  }
}

const httpError = (status: number) =>
  Object.assign(new Error(`HTTP ${status} for /secret?token=x`), { status });

const fallbacks = (name: string, outcome: string, errorType: string, category: string) =>
  series('fallbacks', {
    'resilience.name': name,
    'resilience.outcome': outcome,
    'error.type': errorType,
    'resilience.error.category': category,
  });

describe('fallback', () => {
  it('answers a failure with the handler value and tells the handler about it', async () => {
    const seen: FallbackContext[] = [];
    const policy = fallback((failure) => {
      seen.push(failure);
      return 'cached';
    });
    const error = httpError(503);
    await expect(policy.execute(() => Promise.reject(error))).resolves.toBe('cached');
    expect(seen).toHaveLength(1);
    expect(seen[0]!.error).toBe(error);
    expect(seen[0]!.classification).toMatchObject({ category: 'transient', errorType: '503' });
    expect(seen[0]!.attempts).toBe(1);
    expect(seen[0]!.signal.aborted).toBe(false);
  });

  it('also answers a synchronous throw, and awaits an async handler', async () => {
    const policy = fallback(async () => 'later');
    await expect(
      policy.execute(() => {
        throw new Error('sync');
      }),
    ).resolves.toBe('later');
  });

  it('leaves a success alone', async () => {
    const handler = vi.fn(() => 'cached');
    await expect(fallback(handler).execute(() => 'live')).resolves.toBe('live');
    expect(handler).not.toHaveBeenCalled();
  });

  it('falls back only for failures the when-predicate accepts', async () => {
    const policy = fallback(() => 'cached', {
      when: (_, classification) => classification.category === 'transient',
    });
    await expect(policy.execute(() => Promise.reject(httpError(503)))).resolves.toBe('cached');
    const dataError = httpError(404);
    await expect(policy.execute(() => Promise.reject(dataError))).rejects.toBe(dataError);
  });

  it('treats a throwing predicate as "do not fall back"', async () => {
    const policy = fallback(() => 'cached', {
      when: () => {
        throw new Error('predicate bug');
      },
    });
    const error = new Error('original');
    await expect(policy.execute(() => Promise.reject(error))).rejects.toBe(error);
  });

  it('never falls back when the caller aborted', async () => {
    const handler = vi.fn(() => 'cached');
    const policy = fallback(handler, { when: () => true });
    const caller = new AbortController();
    const result = policy.execute(
      ({ signal }) =>
        new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      caller.signal,
    );
    const reason = new Error('client went away');
    caller.abort(reason);
    await expect(result).rejects.toBe(reason);
    await expect(policy.execute(() => Promise.reject(new AbortedError()))).rejects.toBeInstanceOf(
      AbortedError,
    );
    expect(handler).not.toHaveBeenCalled();
  });

  it('rejects with the handler error when the handler fails', async () => {
    const policy = fallback(() => {
      throw new Error('cache down');
    });
    await expect(policy.execute(() => Promise.reject(new Error('primary')))).rejects.toThrow(
      'cache down',
    );
  });

  it('chains several levels in a pipeline, and reports the attempts a retry made', async () => {
    const attemptsSeen: number[] = [];
    const lastResort = fallback(
      ({ attempts }) => {
        attemptsSeen.push(attempts);
        return 'default';
      },
      { name: 'last-resort' },
    );
    const cache = fallback(
      ({ attempts }) => {
        attemptsSeen.push(attempts);
        throw Object.assign(new Error('cache miss'), { code: 'ECACHEMISS' });
      },
      { name: 'cache' },
    );
    const fn = vi.fn(() => Promise.reject(httpError(503)));
    const policy = wrap(lastResort, cache, new TestRetry(3));
    await expect(policy.execute(fn)).resolves.toBe('default');
    expect(fn).toHaveBeenCalledTimes(3);
    expect(attemptsSeen).toEqual([3, 3]);
    // The counter names the failure each level answered, by the outcome of its own handler.
    expect(fallbacks('cache', 'failure', '503', 'transient').value).toBe(1);
    expect(fallbacks('last-resort', 'success', 'ECACHEMISS', 'unknown').value).toBe(1);
  });

  it('inside a retry, counts the attempt it answered', async () => {
    const attemptsSeen: number[] = [];
    let calls = 0;
    const inner = fallback(({ attempts }) => {
      attemptsSeen.push(attempts);
      if (attempts < 2) throw httpError(503);
      return 'fallback';
    });
    const policy = wrap(new TestRetry(3), inner);
    await expect(
      policy.execute(() => {
        calls++;
        return Promise.reject(httpError(503));
      }),
    ).resolves.toBe('fallback');
    expect(calls).toBe(2);
    expect(attemptsSeen).toEqual([1, 2]);
  });

  it('fires onFallback before the handler, and a throwing listener changes nothing', async () => {
    const order: string[] = [];
    const policy = fallback(() => {
      order.push('handler');
      return 1;
    });
    policy.onFallback(({ classification }) => order.push(`event:${classification.category}`));
    policy.onFallback(() => {
      throw new Error('listener bug');
    });
    await expect(policy.execute(() => Promise.reject(httpError(429)))).resolves.toBe(1);
    expect(order).toEqual(['event:rate_limited', 'handler']);
  });

  describe('with a timeout outside it', () => {
    beforeEach(() => vi.useFakeTimers());
    afterEach(() => vi.useRealTimers());

    it('answers an attempt cut short by the deadline', async () => {
      const policy = wrap(
        timeout(50),
        fallback(() => 'cached'),
      );
      const result = policy.execute(
        ({ signal }) =>
          new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      );
      await vi.advanceTimersByTimeAsync(50);
      await expect(result).resolves.toBe('cached');
    });
  });

  it('types the direct result as the union of the function and handler types', () => {
    const policy = fallback(() => null);
    expectTypeOf(policy).toEqualTypeOf<FallbackPolicy<null>>();
    expectTypeOf(policy.execute(() => 1)).toEqualTypeOf<Promise<number | null>>();
    // Still a Policy, so it composes.
    expectTypeOf(wrap(policy, timeout(10)).execute(() => 'x')).toEqualTypeOf<Promise<string>>();
  });

  it('rejects bad options naming them', () => {
    expect(() => fallback('value' as never)).toThrow(/handler must be a function, got "value"/);
    expect(() => fallback(() => 1, { when: true as never })).toThrow(/when must be a function/);
    expect(() => fallback(() => 1, { name: '' })).toThrow(/name must be a non-empty string/);
  });

  describe('with an OpenTelemetry SDK', () => {
    const otel = useTestTelemetry();

    it('exports the fallback counter and a span event without messages', async () => {
      const policy = fallback(() => 'cached', { name: 'otel-fallback' });
      await policy.execute(() => Promise.reject(httpError(502)));
      const metrics = await otel.collect();
      expect(points(metrics, 'resilience.fallbacks')).toContainEqual({
        attributes: {
          'resilience.name': 'otel-fallback',
          'resilience.outcome': 'success',
          'error.type': '502',
          'resilience.error.category': 'transient',
        },
        value: 1,
      });
      const span = otel.spans().find((s) => s.name === 'resilience otel-fallback');
      expect(span?.events.map((e) => e.name)).toEqual([EVENT_FALLBACK]);
      expect(span?.events[0]?.attributes).toEqual({
        'resilience.name': 'otel-fallback',
        'resilience.outcome': 'success',
        'error.type': '502',
        'resilience.error.category': 'transient',
      });
      expect(JSON.stringify(span?.events)).not.toContain('secret');
      // The call itself succeeded thanks to the fallback.
      expect(span?.attributes['resilience.outcome']).toBe('success');
    });
  });
});

describe('withFallback', () => {
  it('passes the same arguments to each function in turn', async () => {
    const primary = vi.fn(
      (a: number, b: string): Promise<string> => Promise.reject(new Error(`${a}${b}`)),
    );
    const second = vi.fn((a: number, b: string): string => {
      throw new Error(`second ${a}${b}`);
    });
    const third = vi.fn(async (a: number, b: string) => `third ${a}${b}`);
    const fn = withFallback(primary, second, third);
    await expect(fn(1, 'x')).resolves.toBe('third 1x');
    expect(primary).toHaveBeenCalledWith(1, 'x');
    expect(second).toHaveBeenCalledWith(1, 'x');
    expect(third).toHaveBeenCalledWith(1, 'x');
    expectTypeOf(fn).toEqualTypeOf<(a: number, b: string) => Promise<string>>();
  });

  it('calls no alternative when the primary succeeds', async () => {
    const alternative = vi.fn(() => 'alt');
    await expect(withFallback(() => 'primary', alternative)()).resolves.toBe('primary');
    expect(alternative).not.toHaveBeenCalled();
  });

  it('rejects with the last error when every function fails', async () => {
    const last = new Error('last');
    const fn = withFallback(
      () => Promise.reject(new Error('first')),
      () => Promise.reject(last),
    );
    await expect(fn()).rejects.toBe(last);
  });

  it('stops at an AbortedError: the caller gave up', async () => {
    const alternative = vi.fn(() => 'alt');
    const fn = withFallback(() => Promise.reject(new AbortedError()), alternative);
    await expect(fn()).rejects.toBeInstanceOf(AbortedError);
    expect(alternative).not.toHaveBeenCalled();
  });

  it('rejects non-functions naming them', () => {
    expect(() => withFallback(1 as never)).toThrow(/primary must be a function/);
    expect(() => withFallback(() => 1, 'x' as never)).toThrow(
      /alternatives\[0\] must be a function/,
    );
  });
});
