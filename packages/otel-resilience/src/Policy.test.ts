import { describe, expect, it } from 'vitest';
import { bulkhead } from './BulkheadPolicy.js';
import { consecutiveBreaker } from './breaker/Breaker.js';
import { circuitBreaker } from './CircuitBreakerPolicy.js';
import { isAbortedError } from './errors/AbortedError.js';
import { isBulkheadRejectedError } from './errors/BulkheadRejectedError.js';
import { executeQuietly } from './Policy.js';
import { retry } from './RetryPolicy.js';
import { points, useTestTelemetry } from './testing/otel.js';
import { wrap } from './wrap.js';

describe('policy attributes', () => {
  const otel = useTestTelemetry();
  const host = { 'server.address': 'api.test' };

  it('are added to call spans, duration histograms and counter series', async () => {
    const breaker = circuitBreaker({
      name: 'upstream',
      attributes: host,
      breaker: consecutiveBreaker(1),
    });
    const pipeline = wrap({ name: 'client', attributes: host }, retry({ maxAttempts: 1 }), breaker);
    await expect(pipeline.execute(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');

    const [span] = otel.spans().filter((s) => s.name === 'resilience client');
    expect(span?.attributes).toMatchObject({
      'resilience.name': 'client',
      'server.address': 'api.test',
    });
    const data = await otel.collect();
    expect(points(data, 'resilience.call.duration').map((p) => p.attributes)).toEqual([
      {
        'server.address': 'api.test',
        'resilience.name': 'client',
        'resilience.outcome': 'failure',
        'error.type': 'Error',
        'resilience.error.category': 'unknown',
      },
    ]);
    expect(points(data, 'resilience.circuit_breaker.transitions')).toEqual([
      {
        attributes: {
          'server.address': 'api.test',
          'resilience.name': 'upstream',
          'resilience.circuit_breaker.previous_state': 'closed',
          'resilience.circuit_breaker.state': 'open',
        },
        value: 1,
      },
    ]);
  });

  it('keep two same-named policies with different attributes in separate series', async () => {
    const a = circuitBreaker({
      name: 'b',
      attributes: { 'server.address': 'a' },
      breaker: consecutiveBreaker(1),
    });
    const b = circuitBreaker({
      name: 'b',
      attributes: { 'server.address': 'b' },
      breaker: consecutiveBreaker(1),
    });
    await expect(a.execute(() => Promise.reject(new Error('x')))).rejects.toThrow();
    const state = async (address: string, value: string) =>
      points(await otel.collect(), 'resilience.circuit_breaker.state').find(
        (p) =>
          p.attributes['resilience.name'] === 'b' &&
          p.attributes['server.address'] === address &&
          p.attributes['resilience.circuit_breaker.state'] === value,
      )?.value;
    expect(await state('a', 'open')).toBe(1);
    expect((await state('b', 'open')) ?? 0).toBe(0);
    expect(await state('b', 'closed')).toBe(1);
    expect(b.state).toBe('closed');
  });

  it('reject reserved keys and non-string values, naming the option', () => {
    expect(() => retry({ attributes: { 'resilience.name': 'x' } })).toThrow(
      'attributes may not set the reserved attribute "resilience.name"',
    );
    expect(() => retry({ attributes: { 'error.type': 'x' } })).toThrow('reserved attribute');
    expect(() => retry({ attributes: { host: 3 as unknown as string } })).toThrow(
      'attributes.host must be a non-empty string, got 3',
    );
    expect(() => retry({ attributes: [] as unknown as Record<string, string> })).toThrow(
      'attributes must be an object of string values',
    );
  });
});

describe('executeQuietly', () => {
  const otel = useTestTelemetry();

  it('runs a policy without a call span or durations, keeping its counters', async () => {
    const pool = bulkhead(1, { name: 'quiet-pool' });
    let release!: () => void;
    const held = executeQuietly(pool, () => new Promise<void>((r) => (release = r)));
    await expect(executeQuietly(pool, () => 'second')).rejects.toSatisfy(isBulkheadRejectedError);
    release();
    await held;
    expect(otel.spans()).toEqual([]);
    const data = await otel.collect();
    expect(points(data, 'resilience.call.duration')).toEqual([]);
    expect(points(data, 'resilience.bulkhead.rejections')).toContainEqual({
      attributes: { 'resilience.name': 'quiet-pool' },
      value: 1,
    });
  });

  it('refuses to start when the signal already aborted, and rejects what is not a policy', async () => {
    await expect(executeQuietly(bulkhead(1), () => 1, AbortSignal.abort())).rejects.toSatisfy(
      isAbortedError,
    );
    expect(() => executeQuietly({} as never, () => 1)).toThrow('executeQuietly() needs a policy');
  });
});
