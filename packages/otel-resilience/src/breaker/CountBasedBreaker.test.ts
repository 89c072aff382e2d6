import { describe, expect, it } from 'vitest';
import { countBasedBreaker } from './Breaker.js';

const feed = (
  window: ReturnType<ReturnType<typeof countBasedBreaker>['create']>,
  outcomes: string,
) => [...outcomes].map((o) => (o === 'f' ? window.failure(0, 0) : window.success(0, 0)));

describe('countBasedBreaker', () => {
  it('does not open before minimumCalls, however many failed', () => {
    const window = countBasedBreaker({
      failureRateThreshold: 0.5,
      windowSize: 10,
      minimumCalls: 4,
    }).create();
    expect(feed(window, 'fff')).toEqual([false, false, false]);
    expect(window.failure(0, 0)).toBe(true);
  });

  it('opens exactly when the failure rate reaches the threshold', () => {
    const window = countBasedBreaker({ failureRateThreshold: 0.3, windowSize: 10 }).create();
    // 10 calls, the 3rd failure makes 3/10 = 0.3.
    expect(feed(window, 'sssssssff')).toEqual(Array(9).fill(false));
    expect(window.failure(0, 0)).toBe(true);
  });

  it('slides: the oldest outcome leaves the window', () => {
    const window = countBasedBreaker({ failureRateThreshold: 0.5, windowSize: 4 }).create();
    expect(feed(window, 'fsss')).toEqual([false, false, false, false]);
    // s,s,s,f → 1/4: the first failure slid out.
    expect(window.failure(0, 0)).toBe(false);
    // s,s,f,f → 2/4.
    expect(window.failure(0, 0)).toBe(true);
  });

  it('opens on the success that brings the window to minimumCalls at a high failure rate', () => {
    const window = countBasedBreaker({
      failureRateThreshold: 0.5,
      windowSize: 10,
      minimumCalls: 4,
    }).create();
    expect(feed(window, 'fff')).toEqual([false, false, false]);
    expect(window.success(0, 0)).toBe(true);
  });

  it('with threshold 1 opens only when every call in the window failed', () => {
    const window = countBasedBreaker({ failureRateThreshold: 1, windowSize: 3 }).create();
    expect(feed(window, 'sff')).toEqual([false, false, false]);
    expect(window.failure(0, 0)).toBe(true);
  });

  it('defaults to a 0.5 rate over the last 100 calls, all of them required', () => {
    const breaker = countBasedBreaker();
    expect([breaker.failureRateThreshold, breaker.windowSize, breaker.minimumCalls]).toEqual([
      0.5, 100, 100,
    ]);
    expect(breaker.needsTime).toBe(false);
  });

  it('round-trips its window through JSON, oldest first', () => {
    const window = countBasedBreaker({ failureRateThreshold: 0.5, windowSize: 4 }).create();
    feed(window, 'sffsf');
    expect(window.toJSON()).toEqual({ outcomes: 'ffsf' });
    const copy = countBasedBreaker({ failureRateThreshold: 0.5, windowSize: 3 }).create();
    expect(copy.restore(JSON.parse(JSON.stringify(window.toJSON())))).toBe(true);
    expect(copy.toJSON()).toEqual({ outcomes: 'fsf' });
    expect(copy.restore({ outcomes: 'x' })).toBe(false);
    expect(copy.toJSON()).toEqual({ outcomes: 'fsf' });
  });

  it.each([
    [{ failureRateThreshold: 0 }, 'failureRateThreshold must be a number in (0, 1], got 0'],
    [{ failureRateThreshold: 1.5 }, 'failureRateThreshold must be a number in (0, 1], got 1.5'],
    [{ windowSize: 0 }, 'windowSize must be an integer >= 1, got 0'],
    [{ windowSize: 2.5 }, 'windowSize must be an integer >= 1, got 2.5'],
    [{ minimumCalls: 0 }, 'minimumCalls must be an integer >= 1, got 0'],
    [{ windowSize: 5, minimumCalls: 6 }, 'minimumCalls must be <= windowSize (5), got 6'],
  ])('rejects %o', (options, message) => {
    expect(() => countBasedBreaker(options)).toThrow(new TypeError(message));
  });
});
