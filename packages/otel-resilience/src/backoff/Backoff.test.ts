import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  aggressiveBackoff,
  type Backoff,
  constantBackoff,
  decorrelatedJitterBackoff,
  exponentialBackoff,
  fibonacciBackoff,
  JITTERS,
  type Jitter,
  linearBackoff,
} from './Backoff.js';

const sequence = (backoff: Backoff, count: number, random: () => number = Math.random) => {
  const delays: number[] = [];
  let previous = 0;
  for (let retry = 1; retry <= count; retry++) {
    previous = backoff.delayMs(retry, previous, random);
    delays.push(previous);
  }
  return delays;
};

describe('deterministic sequences', () => {
  it('constant', () => {
    expect(sequence(constantBackoff(250), 4)).toEqual([250, 250, 250, 250]);
    expect(sequence(constantBackoff(0), 2)).toEqual([0, 0]);
  });

  it('linear: n × initial, capped', () => {
    expect(sequence(linearBackoff({ initialDelayMs: 100, maxDelayMs: 350 }), 5)).toEqual([
      100, 200, 300, 350, 350,
    ]);
  });

  it('exponential: initial × factor^(n-1), default factor 2 and defaults 100 ms / 30 s', () => {
    expect(sequence(exponentialBackoff(), 10)).toEqual([
      100, 200, 400, 800, 1_600, 3_200, 6_400, 12_800, 25_600, 30_000,
    ]);
    expect(sequence(exponentialBackoff({ initialDelayMs: 10, factor: 1.5 }), 3)).toEqual([
      10, 15, 22.5,
    ]);
  });

  it('aggressive: initial × 3^(n-1)', () => {
    expect(sequence(aggressiveBackoff({ initialDelayMs: 1_000, maxDelayMs: 60_000 }), 6)).toEqual([
      1_000, 3_000, 9_000, 27_000, 60_000, 60_000,
    ]);
  });

  it('fibonacci: F(n) × initial', () => {
    expect(sequence(fibonacciBackoff({ initialDelayMs: 100, maxDelayMs: 1_000 }), 9)).toEqual([
      100, 100, 200, 300, 500, 800, 1_000, 1_000, 1_000,
    ]);
  });

  it('equal jitter stays in [d/2, d] and full jitter in [0, d]', () => {
    const equal = exponentialBackoff({ jitter: 'equal' });
    expect(sequence(equal, 3, () => 0)).toEqual([50, 100, 200]);
    expect(sequence(equal, 3, () => 1)).toEqual([100, 200, 400]);
    const full = linearBackoff({ jitter: 'full' });
    expect(sequence(full, 3, () => 0.5)).toEqual([50, 100, 150]);
    expect(sequence(full, 3, () => 0)).toEqual([0, 0, 0]);
  });

  it('decorrelated jitter: between initial and 3 × previous, capped', () => {
    const backoff = decorrelatedJitterBackoff({ initialDelayMs: 100, maxDelayMs: 1_000 });
    expect(sequence(backoff, 4, () => 1)).toEqual([300, 900, 1_000, 1_000]);
    expect(sequence(backoff, 3, () => 0)).toEqual([100, 100, 100]);
    expect(backoff.delayMs(5, 200, () => 0.5)).toBe(350);
  });

  it('is a pure value: the same inputs give the same delay whoever calls', () => {
    const shared = exponentialBackoff();
    expect(shared.delayMs(3, 0)).toBe(400);
    expect(shared.delayMs(1, 0)).toBe(100);
    expect(shared.delayMs(3, 12_345)).toBe(400);
  });
});

describe('bounds (property-based)', () => {
  const options = fc.record({
    initialDelayMs: fc.double({ min: 0, max: 1e12, noNaN: true }),
    maxDelayMs: fc.double({ min: 0, max: 1e12, noNaN: true }),
    jitter: fc.constantFrom(...JITTERS),
    factor: fc.double({ min: 1, max: 1e6, noNaN: true }),
  });
  const kinds = fc.constantFrom(
    'constant',
    'linear',
    'exponential',
    'aggressive',
    'fibonacci',
    'decorrelated',
  );
  type Options = { initialDelayMs: number; maxDelayMs: number; jitter: Jitter; factor: number };
  const make = (kind: string, o: Options) => {
    switch (kind) {
      case 'constant':
        return { backoff: constantBackoff(o.maxDelayMs, { jitter: o.jitter }), max: o.maxDelayMs };
      case 'linear':
        return { backoff: linearBackoff(o), max: o.maxDelayMs };
      case 'exponential':
        return { backoff: exponentialBackoff(o), max: o.maxDelayMs };
      case 'aggressive':
        return { backoff: aggressiveBackoff(o), max: o.maxDelayMs };
      case 'fibonacci':
        return { backoff: fibonacciBackoff(o), max: o.maxDelayMs };
      default:
        return { backoff: decorrelatedJitterBackoff(o), max: o.maxDelayMs };
    }
  };

  it('every delay of every kind and jitter is finite and within [0, maxDelayMs]', () => {
    fc.assert(
      fc.property(
        kinds,
        options,
        fc.oneof(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1 }), fc.maxSafeInteger()),
        fc.double({ noNaN: false }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (kind, o, retry, previous, r) => {
          const { backoff, max } = make(kind, o);
          const delay = backoff.delayMs(retry, previous, () => r);
          return Number.isFinite(delay) && delay >= 0 && delay <= max;
        },
      ),
      { numRuns: 5_000 },
    );
  });

  it('a random source returning garbage cannot push a delay out of bounds', () => {
    fc.assert(
      fc.property(kinds, options, fc.double(), (kind, o, garbage) => {
        const { backoff, max } = make(kind, o);
        const delay = backoff.delayMs(3, 1_000, () => garbage);
        return Number.isFinite(delay) && delay >= 0 && delay <= max;
      }),
    );
  });

  it('huge retry numbers give the cap, never NaN or Infinity', () => {
    for (const backoff of [
      linearBackoff(),
      exponentialBackoff(),
      aggressiveBackoff(),
      fibonacciBackoff(),
      exponentialBackoff({ factor: 1e6, maxDelayMs: 5 }),
    ]) {
      for (const retry of [1_000, 1e9, Number.MAX_SAFE_INTEGER, Number.MAX_VALUE]) {
        const max = backoff.maxDelayMs;
        expect(backoff.delayMs(retry, 0)).toBe(max);
      }
    }
    expect(exponentialBackoff({ initialDelayMs: 0 }).delayMs(Number.MAX_VALUE, 0)).toBe(0);
  });

  it('deterministic kinds never decrease', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('linear', 'exponential', 'aggressive', 'fibonacci'),
        options,
        fc.integer({ min: 1, max: 200 }),
        (kind, o, retry) => {
          const { backoff } = make(kind, { ...o, jitter: 'none' });
          return backoff.delayMs(retry + 1, 0) >= backoff.delayMs(retry, 0);
        },
      ),
    );
  });
});

describe('options', () => {
  it('rejects invalid options naming the option and the value', () => {
    expect(() => constantBackoff(-1)).toThrow('delayMs must be a finite number >= 0, got -1');
    expect(() => linearBackoff({ initialDelayMs: Number.NaN })).toThrow(
      'initialDelayMs must be a finite number >= 0, got NaN',
    );
    expect(() => exponentialBackoff({ maxDelayMs: Number.POSITIVE_INFINITY })).toThrow(
      'maxDelayMs must be a finite number >= 0, got Infinity',
    );
    expect(() => exponentialBackoff({ factor: 0.5 })).toThrow(
      'factor must be a finite number >= 1, got 0.5',
    );
    expect(() => exponentialBackoff({ factor: '2' as never })).toThrow(
      'factor must be a finite number >= 1, got "2"',
    );
    expect(() => fibonacciBackoff({ jitter: 'half' as never })).toThrow(
      'jitter must be "none", "full" or "equal", got "half"',
    );
    expect(() => decorrelatedJitterBackoff({ initialDelayMs: -5 })).toThrow(
      'initialDelayMs must be a finite number >= 0, got -5',
    );
  });

  it('exposes its resolved options', () => {
    expect(exponentialBackoff({ jitter: 'full' })).toMatchObject({
      initialDelayMs: 100,
      maxDelayMs: 30_000,
      factor: 2,
      jitter: 'full',
    });
    expect(aggressiveBackoff()).toMatchObject({ factor: 3 });
  });
});
