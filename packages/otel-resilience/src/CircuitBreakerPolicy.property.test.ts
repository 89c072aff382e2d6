import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type Breaker,
  consecutiveBreaker,
  countBasedBreaker,
  timeBasedBreaker,
} from './breaker/Breaker.js';
import type { CircuitState } from './breaker/CircuitState.js';
import { InMemoryCircuitBreakerStateStore } from './breaker/InMemoryCircuitBreakerStateStore.js';
import { circuitBreaker } from './CircuitBreakerPolicy.js';
import type { Disposable } from './Disposable.js';
import { isBrokenCircuitError } from './errors/BrokenCircuitError.js';

/*
 * Each breaker is compared with a deliberately naive reference model: the model keeps every
 * outcome since the circuit last closed in a plain array and recomputes the strategy's decision
 * from scratch, where the implementation keeps rings, buckets and running totals.
 */

interface Recorded {
  readonly at: number;
  readonly failed: boolean;
  readonly durationMs: number;
}

type Decide = (outcomes: readonly Recorded[], nowMs: number) => boolean;

interface StrategyCase {
  readonly label: string;
  readonly breaker: Breaker;
  readonly decide: Decide;
  /** Slow trial calls count as failed probes. */
  readonly slowMs?: number;
}

interface PolicyConfig {
  readonly halfOpenAfterMs: number;
  readonly successThreshold: number;
  readonly backoff?: { readonly factor: number; readonly maxMs: number };
}

type Op =
  | { readonly kind: 'call'; readonly fail: boolean; readonly durationMs: number }
  | { readonly kind: 'advance'; readonly ms: number }
  | { readonly kind: 'isolate' }
  | { readonly kind: 'release'; readonly pick: number }
  | { readonly kind: 'reset' };

type CallResult =
  | { readonly result: 'ok' | 'error' }
  | { readonly rejected: CircuitState; readonly retryAfterMs: number | undefined };

class Model {
  state: CircuitState = 'closed';
  private outcomes: Recorded[] = [];
  private openedAt = 0;
  private openFor = 0;
  private step = 0;
  private successes = 0;
  private isolations = 0;
  epoch = 0;

  constructor(
    private readonly config: PolicyConfig,
    private readonly strategy: StrategyCase,
  ) {}

  call(start: number, failed: boolean, durationMs: number): CallResult {
    if (this.state === 'isolated') return { rejected: 'isolated', retryAfterMs: undefined };
    if (this.state === 'open') {
      if (start - this.openedAt < this.openFor) {
        return { rejected: 'open', retryAfterMs: Math.ceil(this.openedAt + this.openFor - start) };
      }
      this.moveTo('half_open');
      this.successes = 0;
    }
    const end = start + durationMs;
    const slowMs = this.strategy.slowMs;
    if (this.state === 'half_open') {
      if (failed || (slowMs !== undefined && durationMs > slowMs)) this.open(end);
      else if (++this.successes >= this.config.successThreshold) this.close();
    } else {
      this.outcomes.push({ at: end, failed, durationMs });
      if (this.strategy.decide(this.outcomes, end)) this.open(end);
    }
    return { result: failed ? 'error' : 'ok' };
  }

  isolate(): number {
    this.isolations++;
    this.moveTo('isolated');
    return this.epoch;
  }

  release(epoch: number): void {
    if (epoch === this.epoch && --this.isolations === 0) this.close();
  }

  reset(): void {
    if (this.state === 'closed') {
      this.outcomes = [];
      this.step = 0;
    } else {
      this.close();
    }
  }

  private open(now: number): void {
    this.step = this.state === 'half_open' ? this.step + 1 : 0;
    const base = this.config.halfOpenAfterMs;
    const backoff = this.config.backoff;
    this.openFor =
      backoff === undefined ? base : Math.min(backoff.maxMs, base * backoff.factor ** this.step);
    this.openedAt = now;
    this.moveTo('open');
  }

  private close(): void {
    this.outcomes = [];
    this.step = 0;
    this.moveTo('closed');
  }

  private moveTo(to: CircuitState): void {
    if (this.state === 'isolated' && to !== 'isolated') {
      this.isolations = 0;
      this.epoch++;
    }
    this.state = to;
  }
}

const ratio = fc.constantFrom(0.2, 0.25, 1 / 3, 0.5, 0.6, 2 / 3, 0.75, 1);

const consecutiveCase: fc.Arbitrary<StrategyCase> = fc
  .integer({ min: 1, max: 4 })
  .map((threshold) => ({
    label: `consecutive(${threshold})`,
    breaker: consecutiveBreaker(threshold),
    decide: (outcomes) => {
      let run = 0;
      for (let i = outcomes.length - 1; i >= 0 && outcomes[i]!.failed; i--) run++;
      return run >= threshold;
    },
  }));

const countCase: fc.Arbitrary<StrategyCase> = fc
  .integer({ min: 1, max: 6 })
  .chain((windowSize) =>
    fc.record({
      windowSize: fc.constant(windowSize),
      minimumCalls: fc.integer({ min: 1, max: windowSize }),
      failureRateThreshold: ratio,
    }),
  )
  .map((options) => ({
    label: `countBased(${JSON.stringify(options)})`,
    breaker: countBasedBreaker(options),
    decide: (outcomes) => {
      const last = outcomes.slice(-options.windowSize);
      const failures = last.filter((o) => o.failed).length;
      return (
        last.length >= options.minimumCalls &&
        failures / last.length >= options.failureRateThreshold
      );
    },
  }));

const timeCase: fc.Arbitrary<StrategyCase> = fc
  .record({
    windowMs: fc.constantFrom(100, 200, 1_000),
    buckets: fc.constantFrom(1, 2, 5, 10),
    minimumThroughput: fc.integer({ min: 1, max: 5 }),
    failureRateThreshold: ratio,
    slowCallRateThreshold: ratio,
    slowCallDurationMs: fc.option(fc.constantFrom(20, 50), { nil: undefined }),
  })
  .map((options) => {
    const bucketMs = options.windowMs / options.buckets;
    const slowMs = options.slowCallDurationMs;
    return {
      label: `timeBased(${JSON.stringify(options)})`,
      breaker: timeBasedBreaker(options),
      slowMs,
      decide: (outcomes, nowMs) => {
        const current = Math.floor(nowMs / bucketMs);
        const inWindow = outcomes.filter(
          (o) => Math.floor(o.at / bucketMs) > current - options.buckets,
        );
        const n = inWindow.length;
        if (n < options.minimumThroughput) return false;
        const failures = inWindow.filter((o) => o.failed).length;
        const slow =
          slowMs === undefined ? 0 : inWindow.filter((o) => o.durationMs > slowMs).length;
        return (
          failures / n >= options.failureRateThreshold ||
          (slowMs !== undefined && slow / n >= options.slowCallRateThreshold)
        );
      },
    } satisfies StrategyCase;
  });

const policyConfig: fc.Arbitrary<PolicyConfig> = fc
  .record({
    halfOpenAfterMs: fc.constantFrom(0, 100, 1_000),
    successThreshold: fc.integer({ min: 1, max: 3 }),
    backoff: fc.option(fc.constant(true), { nil: undefined }),
  })
  .map(({ halfOpenAfterMs, successThreshold, backoff }) => ({
    halfOpenAfterMs,
    successThreshold,
    ...(backoff === undefined ? {} : { backoff: { factor: 2, maxMs: halfOpenAfterMs * 4 } }),
  }));

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('call' as const),
      fail: fc.boolean(),
      durationMs: fc.constantFrom(0, 5, 30, 60),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      ms: fc.constantFrom(1, 10, 40, 100, 250, 1_000, 5_000),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'isolate' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'reset' as const }) },
);

let runs = 0;

async function check(strategy: StrategyCase, config: PolicyConfig, ops: readonly Op[]) {
  const store = new InMemoryCircuitBreakerStateStore();
  const options = {
    name: `property-${++runs}`,
    breaker: strategy.breaker,
    halfOpenAfterMs: config.halfOpenAfterMs,
    successThreshold: config.successThreshold,
    stateStore: store,
    ...(config.backoff === undefined ? {} : { openDurationBackoff: config.backoff }),
  };
  const policy = circuitBreaker(options);
  // Never called: it only follows what the policy publishes.
  const follower = circuitBreaker(options);
  const model = new Model(config, strategy);
  const handles: Array<{ real: Disposable; epoch: number }> = [];
  try {
    for (const step of ops) {
      switch (step.kind) {
        case 'call': {
          const expected = model.call(performance.now(), step.fail, step.durationMs);
          const actual: CallResult = await policy
            .execute(() => {
              vi.advanceTimersByTime(step.durationMs);
              if (step.fail) throw Object.assign(new Error('down'), { code: 'ECONNRESET' });
              return 'ok';
            })
            .then(
              () => ({ result: 'ok' as const }),
              (error: unknown) =>
                isBrokenCircuitError(error)
                  ? { rejected: error.state, retryAfterMs: error.retryAfterMs }
                  : { result: 'error' as const },
            );
          expect(actual).toEqual(expected);
          break;
        }
        case 'advance':
          vi.advanceTimersByTime(step.ms);
          break;
        case 'isolate':
          handles.push({ real: policy.isolate(), epoch: model.isolate() });
          break;
        case 'release': {
          const handle = handles.splice(step.pick % Math.max(1, handles.length), 1)[0];
          if (handle !== undefined) {
            handle.real.dispose();
            model.release(handle.epoch);
          }
          break;
        }
        case 'reset':
          policy.reset();
          model.reset();
          break;
      }
      expect(policy.state).toBe(model.state);
      // Another breaker's trials do not put the follower in half-open: it waits, open.
      expect(follower.state).toBe(model.state === 'half_open' ? 'open' : model.state);
    }
  } finally {
    policy.dispose();
    follower.dispose();
  }
}

describe('circuit breaker state machine against a reference model', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it.each([
    ['consecutive', consecutiveCase],
    ['count-based', countCase],
    ['time-based', timeCase],
  ] as const)('%s breaker', async (_label, strategyCase) => {
    await fc.assert(
      fc.asyncProperty(
        strategyCase,
        policyConfig,
        fc.array(op, { maxLength: 60, size: 'max' }),
        (strategy, config, ops) => check(strategy, config, ops),
      ),
      { numRuns: 300 },
    );
  });
});
