import { describe, expect, it } from 'vitest';
import { type TimeBasedBreakerOptions, timeBasedBreaker } from './Breaker.js';

const make = (options: TimeBasedBreakerOptions) => timeBasedBreaker(options).create();

describe('timeBasedBreaker', () => {
  it('does not open below minimumThroughput, then opens at the failure rate', () => {
    const window = make({ failureRateThreshold: 0.5, minimumThroughput: 4, windowMs: 1_000 });
    expect(window.failure(0, 0)).toBe(false);
    expect(window.success(0, 10)).toBe(false);
    expect(window.failure(0, 20)).toBe(false);
    // 4 calls, 3 failed.
    expect(window.failure(0, 30)).toBe(true);
  });

  it('opens exactly at the failure-rate threshold', () => {
    const window = make({ failureRateThreshold: 0.25, minimumThroughput: 4, windowMs: 1_000 });
    expect([window.success(0, 0), window.success(0, 1), window.success(0, 2)]).toEqual([
      false,
      false,
      false,
    ]);
    expect(window.failure(0, 3)).toBe(true);
  });

  it('forgets calls older than the window, bucket by bucket', () => {
    const window = make({
      failureRateThreshold: 0.5,
      minimumThroughput: 2,
      windowMs: 1_000,
      buckets: 10,
    });
    expect(window.failure(0, 0)).toBe(false);
    // 0 ms is in bucket 0; at 1_000 ms bucket 0 has slid out: one call in the window.
    expect(window.failure(0, 1_000)).toBe(false);
    // At 1_099 ms bucket 10 still holds the call at 1_000: two failures.
    expect(window.failure(0, 1_099)).toBe(true);
  });

  it('after a long idle period starts from an empty window', () => {
    const window = make({ failureRateThreshold: 0.5, minimumThroughput: 3, windowMs: 1_000 });
    window.failure(0, 0);
    window.failure(0, 10);
    expect(window.failure(0, 60_000)).toBe(false);
    expect(window.failure(0, 60_001)).toBe(false);
    expect(window.failure(0, 60_002)).toBe(true);
  });

  it('checks the rates after successes too', () => {
    const window = make({ failureRateThreshold: 0.5, minimumThroughput: 3, windowMs: 1_000 });
    expect(window.failure(0, 0)).toBe(false);
    expect(window.failure(0, 1)).toBe(false);
    // The success brings the window to minimumThroughput, with 2 of 3 failed.
    expect(window.success(0, 2)).toBe(true);
    window.reset();
    // Healthy buckets slide out: at 1_000 ms only the failures at 500 ms and 999 ms remain.
    for (let i = 0; i < 4; i++) expect(window.success(0, i)).toBe(false);
    expect(window.failure(0, 500)).toBe(false);
    expect(window.failure(0, 999)).toBe(false);
    expect(window.success(0, 1_000)).toBe(true);
  });

  it('opens on the slow-call rate, even on successes', () => {
    const breaker = timeBasedBreaker({
      slowCallDurationMs: 100,
      slowCallRateThreshold: 0.5,
      failureRateThreshold: 1,
      minimumThroughput: 4,
      windowMs: 1_000,
    });
    expect(breaker.slowCallDurationMs).toBe(100);
    const window = breaker.create();
    expect(window.success(100, 0)).toBe(false); // not slower than 100 ms
    expect(window.success(101, 1)).toBe(false);
    expect(window.success(5, 2)).toBe(false);
    expect(window.success(500, 3)).toBe(true); // 2 of 4 slow
  });

  it('counts a slow failure as both failed and slow', () => {
    const window = make({
      slowCallDurationMs: 10,
      slowCallRateThreshold: 1,
      failureRateThreshold: 1,
      minimumThroughput: 2,
    });
    expect(window.success(50, 0)).toBe(false);
    expect(window.failure(50, 1)).toBe(true); // 2 of 2 slow
  });

  it('ignores durations without slowCallDurationMs', () => {
    const breaker = timeBasedBreaker({ minimumThroughput: 1 });
    expect(breaker.slowCallDurationMs).toBeUndefined();
    expect(breaker.create().success(1e9, 0)).toBe(false);
  });

  it('needs the clock, has Hystrix-like defaults, and keeps no window in snapshots', () => {
    const breaker = timeBasedBreaker();
    expect(breaker.needsTime).toBe(true);
    expect({
      windowMs: breaker.windowMs,
      buckets: breaker.buckets,
      minimumThroughput: breaker.minimumThroughput,
      failureRateThreshold: breaker.failureRateThreshold,
      slowCallRateThreshold: breaker.slowCallRateThreshold,
    }).toEqual({
      windowMs: 10_000,
      buckets: 10,
      minimumThroughput: 20,
      failureRateThreshold: 0.5,
      slowCallRateThreshold: 1,
    });
    const window = breaker.create();
    expect(window.toJSON()).toBeUndefined();
    expect(window.restore({})).toBe(false);
  });

  it('is empty again after reset', () => {
    const window = make({ failureRateThreshold: 0.5, minimumThroughput: 2 });
    window.failure(0, 0);
    window.reset();
    expect(window.failure(0, 1)).toBe(false);
    expect(window.failure(0, 2)).toBe(true);
  });

  it.each([
    [{ failureRateThreshold: 0 }, 'failureRateThreshold must be a number in (0, 1], got 0'],
    [{ slowCallRateThreshold: 2 }, 'slowCallRateThreshold must be a number in (0, 1], got 2'],
    [{ slowCallDurationMs: -1 }, 'slowCallDurationMs must be a finite number > 0, got -1'],
    [{ windowMs: 0 }, 'windowMs must be a finite number > 0, got 0'],
    [{ buckets: 0 }, 'buckets must be an integer >= 1, got 0'],
    [{ minimumThroughput: 1.5 }, 'minimumThroughput must be an integer >= 1, got 1.5'],
  ])('rejects %o', (options, message) => {
    expect(() => timeBasedBreaker(options)).toThrow(new TypeError(message));
  });
});
