import { describe, expect, it } from 'vitest';
import { parseRetryAfter, retryAfterHintOf } from './retryAfter.js';

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);

describe('parseRetryAfter', () => {
  it('reads numbers as milliseconds and digit strings as seconds', () => {
    expect(parseRetryAfter(1500, NOW)).toBe(1500);
    expect(parseRetryAfter('3', NOW)).toBe(3000);
    expect(parseRetryAfter(' 0 ', NOW)).toBe(0);
  });

  it('reads HTTP dates and Dates relative to now, past ones as 0', () => {
    expect(parseRetryAfter('Thu, 01 Jan 2026 12:00:10 GMT', NOW)).toBe(10_000);
    expect(parseRetryAfter(new Date(NOW + 2_000), NOW)).toBe(2_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 11:00:00 GMT', NOW)).toBe(0);
  });

  it('rejects garbage, negatives and absurd values', () => {
    for (const bad of [
      -1,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      'soon',
      '',
      '-5',
      {},
      null,
      1e12,
    ]) {
      expect(parseRetryAfter(bad, NOW)).toBeUndefined();
    }
  });
});

describe('retryAfterHintOf', () => {
  it('finds hints on errors, plain header objects and Headers instances', () => {
    expect(retryAfterHintOf({ retryAfterMs: 10 }, NOW)).toBe(10);
    expect(retryAfterHintOf({ headers: { 'retry-after': '2' } }, NOW)).toBe(2000);
    expect(
      retryAfterHintOf({ response: { headers: new Headers({ 'Retry-After': '4' }) } }, NOW),
    ).toBe(4000);
    expect(retryAfterHintOf({ response: { headers: { 'retry-after': ['5'] } } }, NOW)).toBe(5000);
    expect(retryAfterHintOf(new Error('x'), NOW)).toBeUndefined();
    expect(retryAfterHintOf(null, NOW)).toBeUndefined();
  });
});
