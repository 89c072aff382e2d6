import { describe, expect, it } from 'vitest';
import { ERROR_CATEGORIES } from './Classification.js';
import { DEFAULT_RETRYABLE } from './Classifier.js';
import { DEFAULT_DECISION_MATRIX } from './decisionMatrix.js';

describe('DEFAULT_DECISION_MATRIX', () => {
  it('has an entry for every category whose retry flag agrees with DEFAULT_RETRYABLE', () => {
    expect(Object.keys(DEFAULT_DECISION_MATRIX).sort()).toEqual([...ERROR_CATEGORIES].sort());
    for (const category of ERROR_CATEGORIES) {
      expect(DEFAULT_DECISION_MATRIX[category].retry, category).toBe(DEFAULT_RETRYABLE[category]);
    }
  });

  it('follows the seeds: 2^n for transient, 3^n for rate limits, linear for timeouts', () => {
    const top = () => 1;
    const delays = (category: 'transient' | 'rate_limited' | 'timeout') =>
      [1, 2, 3, 4].map((n) => DEFAULT_DECISION_MATRIX[category].backoff?.delayMs(n, 0, top));
    expect(delays('transient')).toEqual([100, 200, 400, 800]);
    expect(delays('rate_limited')).toEqual([1_000, 3_000, 9_000, 27_000]);
    expect(delays('timeout')).toEqual([100, 200, 300, 400]);
    expect(DEFAULT_DECISION_MATRIX.system.maxAttempts).toBe(2);
  });

  it('cannot be modified', () => {
    expect(Object.isFrozen(DEFAULT_DECISION_MATRIX)).toBe(true);
    expect(Object.isFrozen(DEFAULT_DECISION_MATRIX.transient)).toBe(true);
  });
});
