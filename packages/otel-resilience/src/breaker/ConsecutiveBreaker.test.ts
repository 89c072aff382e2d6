import { describe, expect, it } from 'vitest';
import { ConsecutiveBreaker, consecutiveBreaker } from './Breaker.js';

describe('consecutiveBreaker', () => {
  it('opens exactly at the threshold of failures in a row, not before', () => {
    const window = consecutiveBreaker(3).create();
    expect(window.failure(0, 0)).toBe(false);
    expect(window.failure(0, 0)).toBe(false);
    expect(window.failure(0, 0)).toBe(true);
  });

  it('starts counting again after a success', () => {
    const window = consecutiveBreaker(2).create();
    expect(window.failure(0, 0)).toBe(false);
    expect(window.success(0, 0)).toBe(false);
    expect(window.failure(0, 0)).toBe(false);
    expect(window.failure(0, 0)).toBe(true);
  });

  it('defaults to 5 (seed 000) and needs no clock', () => {
    const breaker = consecutiveBreaker();
    expect(breaker.threshold).toBe(5);
    expect(breaker.needsTime).toBe(false);
    expect(breaker.slowCallDurationMs).toBeUndefined();
    const window = breaker.create();
    const opened = Array.from({ length: 5 }, () => window.failure(0, 0));
    expect(opened).toEqual([false, false, false, false, true]);
  });

  it('gives every breaker a window of its own', () => {
    const breaker = consecutiveBreaker(2);
    const a = breaker.create();
    const b = breaker.create();
    a.failure(0, 0);
    expect(b.failure(0, 0)).toBe(false);
    expect(a.failure(0, 0)).toBe(true);
  });

  it('forgets its count on reset', () => {
    const window = consecutiveBreaker(2).create();
    window.failure(0, 0);
    window.reset();
    expect(window.failure(0, 0)).toBe(false);
  });

  it('round-trips its count through JSON and refuses foreign state', () => {
    const window = consecutiveBreaker(3).create();
    window.failure(0, 0);
    window.failure(0, 0);
    const copy = consecutiveBreaker(3).create();
    expect(copy.restore(JSON.parse(JSON.stringify(window.toJSON())))).toBe(true);
    expect(copy.failure(0, 0)).toBe(true);
    expect(copy.restore({ failures: -1 })).toBe(false);
    expect(copy.restore({ outcomes: 'ff' })).toBe(false);
    expect(copy.restore(null)).toBe(false);
  });

  it.each([0, -1, 1.5, Number.NaN, '5'])('rejects threshold %s', (threshold) => {
    expect(() => new ConsecutiveBreaker(threshold as number)).toThrow(
      new TypeError(
        `threshold must be an integer >= 1, got ${typeof threshold === 'string' ? '"5"' : threshold}`,
      ),
    );
  });
});
