import { SpanStatusCode } from '@opentelemetry/api';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { bulkhead } from './BulkheadPolicy.js';
import { constantBackoff } from './backoff/Backoff.js';
import { consecutiveBreaker } from './breaker/Breaker.js';
import { circuitBreaker } from './CircuitBreakerPolicy.js';
import { isBrokenCircuitError } from './errors/BrokenCircuitError.js';
import { fallback } from './FallbackPolicy.js';
import { retry } from './RetryPolicy.js';
import { timeout } from './TimeoutPolicy.js';
import { points, useTestTelemetry } from './testing/otel.js';
import { wrap } from './wrap.js';

const reset = () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });

describe('wrap', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('runs policies outermost first and hands each the context the previous one derived', async () => {
    const seen: Array<[number, boolean]> = [];
    const pipeline = wrap(retry({ maxAttempts: 3, backoff: constantBackoff(10) }), timeout(1_000));
    const result = pipeline.execute(({ attempt, signal }) => {
      seen.push([attempt, signal.aborted]);
      if (attempt < 3) throw reset();
      return 'third time';
    });
    await vi.advanceTimersByTimeAsync(20);
    await expect(result).resolves.toBe('third time');
    expect(seen).toEqual([
      [1, false],
      [2, false],
      [3, false],
    ]);
  });

  it('with the breaker inside the retry, every attempt feeds the breaker', async () => {
    const breaker = circuitBreaker({ breaker: consecutiveBreaker(3), halfOpenAfterMs: 60_000 });
    const fn = vi.fn(() => Promise.reject(reset()));
    const pipeline = wrap(retry({ maxAttempts: 3, backoff: constantBackoff(1) }), breaker);
    const result = pipeline.execute(fn);
    const assertion = expect(result).rejects.toThrow('socket hang up');
    await vi.advanceTimersByTimeAsync(5);
    await assertion;
    expect(fn).toHaveBeenCalledTimes(3);
    expect(breaker.state).toBe('open');
  });

  it('with the fallback outermost, an open breaker is answered by the fallback', async () => {
    const breaker = circuitBreaker({ breaker: consecutiveBreaker(1), halfOpenAfterMs: 60_000 });
    const pipeline = wrap(
      fallback(() => 'cached'),
      breaker,
    );
    await expect(pipeline.execute(() => Promise.reject(reset()))).resolves.toBe('cached');
    const fn = vi.fn(() => 'fresh');
    await expect(pipeline.execute(fn)).resolves.toBe('cached');
    expect(fn).not.toHaveBeenCalled();
    await expect(breaker.execute(fn)).rejects.toSatisfy(isBrokenCircuitError);
  });

  it('gives each attempt its own timeout when the timeout is innermost', async () => {
    let attempts = 0;
    const pipeline = wrap(
      retry({ maxAttempts: 2, backoff: constantBackoff(0) }),
      timeout(100, { strategy: 'aggressive' }),
    );
    const result = pipeline.execute(() => {
      attempts++;
      return attempts === 1 ? new Promise(() => {}) : 'second';
    });
    await vi.advanceTimersByTimeAsync(100);
    await expect(result).resolves.toBe('second');
  });

  it('accepts a name first and rejects anything that is not a policy', () => {
    expect(wrap({ name: 'payments' }, timeout(10)).name).toBe('payments');
    expect(wrap(timeout(10)).name).toBe('pipeline');
    expect(() => wrap()).toThrow('wrap() needs at least one policy');
    expect(() => wrap(timeout(10), {} as never)).toThrow('wrap() argument 2 is not a policy');
    expect(() => wrap({ name: '' }, timeout(10))).toThrow(/name must be a non-empty string/);
  });

  it('composes a nested pipeline as one policy', async () => {
    const inner = wrap(bulkhead(1), timeout(100));
    const outer = wrap(
      fallback(() => 'fallback'),
      inner,
    );
    await expect(outer.execute(() => 'ok')).resolves.toBe('ok');
  });
});

describe('a full pipeline with an SDK installed', () => {
  const otel = useTestTelemetry();

  it('emits one call span, one attempt span per attempt, breaker events, and exact metrics', async () => {
    const breaker = circuitBreaker({
      name: 'payments-breaker',
      breaker: consecutiveBreaker(2),
      halfOpenAfterMs: 60_000,
    });
    const pipeline = wrap(
      { name: 'payments' },
      retry({ name: 'payments-retry', maxAttempts: 3, backoff: constantBackoff(0) }),
      breaker,
      timeout(1_000, { name: 'payments-timeout' }),
    );
    let calls = 0;
    // First call: fails once, then succeeds → not marked as failed.
    await expect(
      pipeline.execute(() => {
        calls++;
        if (calls === 1) throw reset();
        return 'ok';
      }),
    ).resolves.toBe('ok');
    // Second call: two failures open the breaker; the third attempt is refused.
    await expect(pipeline.execute(() => Promise.reject(reset()))).rejects.toSatisfy(
      isBrokenCircuitError,
    );

    const spans = otel.spans();
    const calls_ = spans.filter((s) => s.name === 'resilience payments');
    expect(calls_).toHaveLength(2);
    const [first, second] = calls_;
    const childrenOf = (id: string | undefined) =>
      spans.filter((s) => s.parentSpanContext?.spanId === id).map((s) => s.name);

    expect(first?.status.code).toBe(SpanStatusCode.UNSET);
    expect(first?.attributes).toMatchObject({
      'resilience.outcome': 'success_after_retry',
      'resilience.attempts': 2,
    });
    expect(childrenOf(first?.spanContext().spanId)).toEqual([
      'resilience payments attempt',
      'resilience payments attempt',
    ]);

    expect(second?.status.code).toBe(SpanStatusCode.ERROR);
    expect(second?.attributes).toMatchObject({
      'resilience.outcome': 'failure',
      'resilience.attempts': 3,
      'error.type': 'circuit_open',
    });
    expect(second?.events.map((e) => e.name)).toEqual([
      'resilience.retry',
      'resilience.circuit_breaker.transition',
      'resilience.retry',
      'resilience.circuit_breaker.rejection',
      'resilience.retry.give_up',
    ]);

    const data = await otel.collect();
    expect(
      points(data, 'resilience.call.duration')
        .map((p) => p.attributes)
        .filter((a) => a['resilience.name'] === 'payments'),
    ).toEqual(
      expect.arrayContaining([
        { 'resilience.name': 'payments', 'resilience.outcome': 'success_after_retry' },
        {
          'resilience.name': 'payments',
          'resilience.outcome': 'failure',
          'error.type': 'circuit_open',
          'resilience.error.category': 'transient',
        },
      ]),
    );
    expect(points(data, 'resilience.circuit_breaker.transitions')).toContainEqual({
      attributes: {
        'resilience.name': 'payments-breaker',
        'resilience.circuit_breaker.previous_state': 'closed',
        'resilience.circuit_breaker.state': 'open',
      },
      value: 1,
    });
    expect(points(data, 'resilience.circuit_breaker.state')).toEqual(
      expect.arrayContaining([
        {
          attributes: {
            'resilience.name': 'payments-breaker',
            'resilience.circuit_breaker.state': 'open',
          },
          value: 1,
        },
        {
          attributes: {
            'resilience.name': 'payments-breaker',
            'resilience.circuit_breaker.state': 'closed',
          },
          value: 0,
        },
      ]),
    );
    breaker.dispose();
  });
});
