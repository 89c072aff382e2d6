import { DiagLogLevel, diag } from '@opentelemetry/api';
import { DataPointType } from '@opentelemetry/sdk-metrics';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { countBasedBreaker, timeBasedBreaker } from './breaker/Breaker.js';
import type { CircuitBreakerSnapshot } from './breaker/CircuitBreakerSnapshot.js';
import type { CircuitBreakerStateStore } from './breaker/CircuitBreakerStateStore.js';
import type { CircuitState } from './breaker/CircuitState.js';
import { InMemoryCircuitBreakerStateStore } from './breaker/InMemoryCircuitBreakerStateStore.js';
import {
  type CircuitBreakerOptions,
  type CircuitBreakerPolicy,
  type CircuitStateChange,
  circuitBreaker,
} from './CircuitBreakerPolicy.js';
import { AbortedError } from './errors/AbortedError.js';
import { type BrokenCircuitError, isBrokenCircuitError } from './errors/BrokenCircuitError.js';
import { TimeoutExceededError } from './errors/TimeoutExceededError.js';
import { timeout } from './TimeoutPolicy.js';
import { series } from './telemetry/metrics.js';
import { captureDiag, points, useTestTelemetry } from './testing/otel.js';
import { wrap } from './wrap.js';

const transient = () => Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
const boom = () => Promise.reject(transient());
const ok = () => 'ok';

/** Runs `count` failing calls, swallowing their errors. */
async function fail(policy: CircuitBreakerPolicy, count = 1): Promise<void> {
  for (let i = 0; i < count; i++) await policy.execute(boom).catch(() => {});
}

/** Runs `count` successful calls. */
async function succeed(policy: CircuitBreakerPolicy, count = 1): Promise<void> {
  for (let i = 0; i < count; i++) await policy.execute(ok);
}

/** A function that settles when the test says so. */
function deferred() {
  let resolve!: (value: string) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<string>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { fn: () => promise, resolve, reject };
}

const rejection = (state: string, retryAfterMs?: number) =>
  expect.objectContaining({ name: 'BrokenCircuitError', state, retryAfterMs });

let names = 0;
/** A unique breaker name per test: series are process-wide by name. */
const uniqueName = () => `breaker-${++names}`;
const breaker = (options: CircuitBreakerOptions = {}) =>
  circuitBreaker({ name: uniqueName(), ...options });

describe('circuitBreaker', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => {
    vi.useRealTimers();
    diag.disable();
  });

  describe('closed → open (default strategy: 5 consecutive failures)', () => {
    it('opens on the 5th failure in a row and not before', async () => {
      const policy = breaker();
      await fail(policy, 4);
      expect(policy.state).toBe('closed');
      await succeed(policy);
      await fail(policy, 4);
      expect(policy.state).toBe('closed');
      await fail(policy);
      expect(policy.state).toBe('open');
    });

    it('refuses calls while open without running them, with the remaining open time', async () => {
      const policy = breaker();
      await fail(policy, 5);
      const fn = vi.fn(ok);
      await expect(policy.execute(fn)).rejects.toEqual(rejection('open', 60_000));
      await vi.advanceTimersByTimeAsync(59_999);
      await expect(policy.execute(fn)).rejects.toEqual(rejection('open', 1));
      expect(fn).not.toHaveBeenCalled();
    });

    it('passes values and errors through untouched', async () => {
      const policy = breaker();
      await expect(policy.execute(() => 42)).resolves.toBe(42);
      const error = transient();
      await expect(policy.execute(() => Promise.reject(error))).rejects.toBe(error);
      await expect(
        policy.execute(() => {
          throw error;
        }),
      ).rejects.toBe(error);
    });

    it('runs no timer, ever', async () => {
      const policy = breaker({ halfOpenAfterMs: 1_000 });
      await fail(policy, 5);
      expect(vi.getTimerCount()).toBe(0);
    });
  });

  describe('open → half_open → closed', () => {
    it('moves to half_open lazily, on the first call after the open period', async () => {
      const policy = breaker({ successThreshold: 1 });
      await fail(policy, 5);
      await vi.advanceTimersByTimeAsync(60_000);
      // Nothing happens until a call arrives.
      expect(policy.state).toBe('open');
      const trial = deferred();
      const result = policy.execute(trial.fn);
      expect(policy.state).toBe('half_open');
      trial.resolve('recovered');
      await expect(result).resolves.toBe('recovered');
      expect(policy.state).toBe('closed');
    });

    it('closes after successThreshold (default 3, seed 000) successful trials', async () => {
      const policy = breaker({ halfOpenAfterMs: 1_000 });
      expect(policy.successThreshold).toBe(3);
      await fail(policy, 5);
      await vi.advanceTimersByTimeAsync(1_000);
      await succeed(policy, 2);
      expect(policy.state).toBe('half_open');
      await succeed(policy);
      expect(policy.state).toBe('closed');
      // Closing forgot the old failures: 4 more do not open it.
      await fail(policy, 4);
      expect(policy.state).toBe('closed');
    });

    it('admits at most halfOpenMaxCalls trials at once and refuses the rest', async () => {
      const policy = breaker({ halfOpenAfterMs: 1_000, halfOpenMaxCalls: 2, successThreshold: 3 });
      await fail(policy, 5);
      await vi.advanceTimersByTimeAsync(1_000);
      const first = deferred();
      const second = deferred();
      const a = policy.execute(first.fn);
      const b = policy.execute(second.fn);
      const fn = vi.fn(ok);
      await expect(policy.execute(fn)).rejects.toEqual(rejection('half_open', undefined));
      expect(fn).not.toHaveBeenCalled();
      first.resolve('a');
      await a;
      // A slot is free again.
      await expect(policy.execute(fn)).resolves.toBe('ok');
      expect(policy.state).toBe('half_open');
      second.resolve('b');
      await b;
      expect(policy.state).toBe('closed');
    });

    it('reopens on a failed trial, for the same duration without backoff', async () => {
      const policy = breaker({ halfOpenAfterMs: 1_000 });
      await fail(policy, 5);
      await vi.advanceTimersByTimeAsync(1_000);
      await fail(policy);
      expect(policy.state).toBe('open');
      await expect(policy.execute(ok)).rejects.toEqual(rejection('open', 1_000));
    });

    it('grows the open period after each failed trial, up to maxMs, and resets it on close', async () => {
      const policy = breaker({
        halfOpenAfterMs: 1_000,
        openDurationBackoff: { factor: 2, maxMs: 5_000 },
        successThreshold: 1,
      });
      await fail(policy, 5);
      const openFor: number[] = [];
      for (let i = 0; i < 4; i++) {
        const error = await policy.execute(ok).catch((e: BrokenCircuitError) => e);
        const ms = (error as BrokenCircuitError).retryAfterMs!;
        openFor.push(ms);
        await vi.advanceTimersByTimeAsync(ms);
        await fail(policy); // the trial fails
      }
      expect(openFor).toEqual([1_000, 2_000, 4_000, 5_000]);
      await vi.advanceTimersByTimeAsync(5_000);
      await succeed(policy);
      expect(policy.state).toBe('closed');
      await fail(policy, 5);
      await expect(policy.execute(ok)).rejects.toEqual(rejection('open', 1_000));
    });

    it('ignores the outcome of a trial from an earlier half-open period', async () => {
      const policy = breaker({ halfOpenAfterMs: 1_000, halfOpenMaxCalls: 2, successThreshold: 1 });
      await fail(policy, 5);
      await vi.advanceTimersByTimeAsync(1_000);
      const slow = deferred();
      const stale = policy.execute(slow.fn);
      await fail(policy); // the other trial fails: open again
      await vi.advanceTimersByTimeAsync(1_000);
      const current = deferred();
      const running = policy.execute(current.fn);
      expect(policy.state).toBe('half_open');
      slow.resolve('late');
      await stale;
      // The late success neither closed the circuit nor freed a slot of this period.
      expect(policy.state).toBe('half_open');
      const third = policy.execute(ok);
      const fourth = policy.execute(ok).catch((e) => e);
      expect(await fourth).toEqual(rejection('half_open', undefined));
      await third;
      current.resolve('done');
      await running;
      expect(policy.state).toBe('closed');
    });

    it('does not count calls that started closed and ended after the circuit opened', async () => {
      const policy = breaker({ halfOpenAfterMs: 1_000, successThreshold: 1 });
      const slow = deferred();
      const pending = policy.execute(slow.fn).catch(() => {});
      await fail(policy, 5);
      await vi.advanceTimersByTimeAsync(400);
      slow.reject(transient());
      await pending;
      // The open period was not restarted by the late failure.
      await expect(policy.execute(ok)).rejects.toEqual(rejection('open', 600));
      await vi.advanceTimersByTimeAsync(600);
      await succeed(policy);
      expect(policy.state).toBe('closed');
    });
  });

  describe('isolate() and reset()', () => {
    it('isolate() refuses every call until its handle is disposed', async () => {
      const policy = breaker();
      const handle = policy.isolate();
      expect(policy.state).toBe('isolated');
      const fn = vi.fn(ok);
      await expect(policy.execute(fn)).rejects.toEqual(rejection('isolated', undefined));
      await vi.advanceTimersByTimeAsync(120_000);
      await expect(policy.execute(fn)).rejects.toEqual(rejection('isolated', undefined));
      handle.dispose();
      expect(policy.state).toBe('closed');
      await expect(policy.execute(fn)).resolves.toBe('ok');
    });

    it('stays isolated while any handle is held', () => {
      const policy = breaker();
      const a = policy.isolate();
      const b = policy.isolate();
      a.dispose();
      a.dispose();
      expect(policy.state).toBe('isolated');
      b.dispose();
      expect(policy.state).toBe('closed');
    });

    it('reset() closes from any state, ends isolation, and old handles stay harmless', async () => {
      const policy = breaker();
      await fail(policy, 5);
      policy.reset();
      expect(policy.state).toBe('closed');
      await fail(policy, 4);
      policy.reset();
      await fail(policy, 4);
      expect(policy.state).toBe('closed');

      const old = policy.isolate();
      policy.reset();
      expect(policy.state).toBe('closed');
      const current = policy.isolate();
      old.dispose();
      expect(policy.state).toBe('isolated');
      current.dispose();
      expect(policy.state).toBe('closed');
    });
  });

  describe('events', () => {
    it('reports every transition, in order, with typed payloads', async () => {
      const policy = breaker({ halfOpenAfterMs: 1_000, successThreshold: 1 });
      const seen: string[] = [];
      const changes: CircuitStateChange[] = [];
      let opened: { openDurationMs: number; error: unknown } | undefined;
      policy.onStateChange((change) => changes.push(change));
      policy.onOpen((event) => {
        opened = event;
        seen.push(`open:${policy.state}`);
      });
      policy.onHalfOpen(() => seen.push('half_open'));
      policy.onClose(() => seen.push('close'));
      const last = transient();
      await fail(policy, 4);
      await policy.execute(() => Promise.reject(last)).catch(() => {});
      expect(opened).toEqual({ openDurationMs: 1_000, error: last });
      await vi.advanceTimersByTimeAsync(1_000);
      await succeed(policy);
      policy.isolate().dispose();
      expect(seen).toEqual(['open:open', 'half_open', 'close', 'close']);
      expect(changes).toEqual([
        { from: 'closed', to: 'open' },
        { from: 'open', to: 'half_open' },
        { from: 'half_open', to: 'closed' },
        { from: 'closed', to: 'isolated' },
        { from: 'isolated', to: 'closed' },
      ]);
    });

    it('onReject receives the error the caller gets', async () => {
      const policy = breaker();
      const rejected: BrokenCircuitError[] = [];
      policy.onReject((error) => rejected.push(error));
      await fail(policy, 5);
      const error = await policy.execute(ok).catch((e) => e);
      expect(rejected).toEqual([error]);
      expect(isBrokenCircuitError(error)).toBe(true);
    });

    it('a throwing listener is reported through diag and breaks nothing', async () => {
      const logger = captureDiag(DiagLogLevel.ERROR);
      const policy = breaker();
      const after = vi.fn();
      policy.onOpen(() => {
        throw new Error('listener bug');
      });
      policy.onStateChange(() => {
        throw new Error('listener bug');
      });
      policy.onOpen(after);
      const last = transient();
      await fail(policy, 4);
      await expect(policy.execute(() => Promise.reject(last))).rejects.toBe(last);
      expect(policy.state).toBe('open');
      expect(after).toHaveBeenCalledTimes(1);
      expect(logger.error).toHaveBeenCalledTimes(2);
    });

    it('unsubscribes on dispose', async () => {
      const policy = breaker();
      const listener = vi.fn();
      policy.onOpen(listener).dispose();
      await fail(policy, 5);
      expect(listener).not.toHaveBeenCalled();
    });
  });

  describe('what counts as a failure', () => {
    it('by default, data and configuration errors count as successes (the dependency answered)', async () => {
      const policy = breaker({ successThreshold: 1, halfOpenAfterMs: 0 });
      const notFound = () => Promise.reject(Object.assign(new Error('nope'), { status: 404 }));
      const forbidden = () => Promise.reject(Object.assign(new Error('nope'), { status: 403 }));
      for (let i = 0; i < 10; i++) await policy.execute(notFound).catch(() => {});
      await policy.execute(forbidden).catch(() => {});
      expect(policy.state).toBe('closed');
      // ...and reset the consecutive count like any success.
      await fail(policy, 4);
      await policy.execute(notFound).catch(() => {});
      await fail(policy, 4);
      expect(policy.state).toBe('closed');
      // 503 counts.
      await policy
        .execute(() => Promise.reject(Object.assign(new Error('down'), { status: 503 })))
        .catch(() => {});
      expect(policy.state).toBe('open');
      // A trial answered with 404 closes the circuit.
      await policy.execute(notFound).catch(() => {});
      expect(policy.state).toBe('closed');
    });

    it('uses a custom isFailure predicate with the classification', async () => {
      const isFailure = vi.fn((error: unknown) => (error as Error).message === 'counts');
      const policy = breaker({ breaker: countBasedBreaker({ windowSize: 2 }), isFailure });
      await policy.execute(() => Promise.reject(new Error('ignored'))).catch(() => {});
      expect(isFailure).toHaveBeenCalledWith(
        expect.any(Error),
        expect.objectContaining({ category: 'unknown', errorType: 'Error' }),
      );
      await policy.execute(() => Promise.reject(new Error('counts'))).catch(() => {});
      expect(policy.state).toBe('open');
    });

    it('a throwing predicate counts the error as a failure', async () => {
      captureDiag(DiagLogLevel.ERROR);
      const policy = breaker({
        breaker: countBasedBreaker({ windowSize: 1 }),
        isFailure: () => {
          throw new Error('predicate bug');
        },
      });
      await fail(policy);
      expect(policy.state).toBe('open');
    });

    it('aborted calls count neither way', async () => {
      const policy = breaker({ breaker: countBasedBreaker({ windowSize: 2 }) });
      const caller = new AbortController();
      caller.abort(new Error('client left'));
      await policy.execute(() => Promise.reject(new AbortedError())).catch(() => {});
      await policy
        .execute(() => Promise.reject(new TimeoutExceededError(5, 'deadline')))
        .catch(() => {});
      const running = new AbortController();
      const call = policy.execute(() => {
        running.abort(new Error('client left'));
        return Promise.reject(transient());
      }, running.signal);
      await call.catch(() => {});
      expect(policy.state).toBe('closed');
      // The window is still empty: two failures are needed to open it.
      await fail(policy);
      expect(policy.state).toBe('closed');
      await fail(policy);
      expect(policy.state).toBe('open');
    });

    it('an aborted trial frees its slot without deciding anything', async () => {
      const policy = breaker({ halfOpenAfterMs: 0, successThreshold: 1 });
      await fail(policy, 5);
      await policy.execute(() => Promise.reject(new AbortedError())).catch(() => {});
      expect(policy.state).toBe('half_open');
      await succeed(policy);
      expect(policy.state).toBe('closed');
    });

    it('timeouts of an outer timeout policy count', async () => {
      const inner = breaker({ breaker: countBasedBreaker({ windowSize: 1 }) });
      const policy = wrap(timeout(100, { strategy: 'aggressive' }), inner);
      const result = policy.execute(
        ({ signal }) =>
          new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      );
      const assertion = expect(result).rejects.toBeInstanceOf(TimeoutExceededError);
      await vi.advanceTimersByTimeAsync(100);
      await assertion;
      expect(inner.state).toBe('open');
    });
  });

  describe('strategies through the policy', () => {
    it('count-based: opens at the failure rate once minimumCalls were made', async () => {
      const policy = breaker({
        breaker: countBasedBreaker({ failureRateThreshold: 0.5, windowSize: 10, minimumCalls: 4 }),
      });
      await fail(policy, 2);
      await succeed(policy);
      expect(policy.state).toBe('closed'); // 2 of 3: too few calls
      await succeed(policy);
      expect(policy.state).toBe('open'); // 2 of 4
    });

    it('time-based: failure rate over the window, with minimum throughput', async () => {
      const policy = breaker({
        breaker: timeBasedBreaker({
          windowMs: 1_000,
          buckets: 10,
          failureRateThreshold: 0.5,
          minimumThroughput: 4,
        }),
      });
      await fail(policy, 2);
      await vi.advanceTimersByTimeAsync(1_000);
      // The first two failures slid out of the window.
      await fail(policy, 2);
      await succeed(policy);
      expect(policy.state).toBe('closed');
      await fail(policy);
      expect(policy.state).toBe('open');
    });

    it('time-based: opens on slow successes; a slow trial reopens', async () => {
      const policy = breaker({
        breaker: timeBasedBreaker({
          slowCallDurationMs: 100,
          slowCallRateThreshold: 0.5,
          minimumThroughput: 2,
        }),
        halfOpenAfterMs: 1_000,
        successThreshold: 1,
      });
      const slowly = () => {
        vi.advanceTimersByTime(150);
        return 'slow';
      };
      await policy.execute(ok);
      expect(policy.state).toBe('closed');
      await expect(policy.execute(slowly)).resolves.toBe('slow');
      expect(policy.state).toBe('open');
      await vi.advanceTimersByTimeAsync(1_000);
      await policy.execute(slowly);
      expect(policy.state).toBe('open');
      await vi.advanceTimersByTimeAsync(1_000);
      await succeed(policy);
      expect(policy.state).toBe('closed');
    });

    it('reads no clock on the closed path of a consecutive breaker', async () => {
      const policy = breaker();
      await succeed(policy);
      const now = vi.spyOn(performance, 'now');
      await succeed(policy, 3);
      await fail(policy, 2);
      expect(now).not.toHaveBeenCalled();
      now.mockRestore();
    });
  });

  describe('snapshots', () => {
    it('round-trip through JSON: an open breaker resumes with its remaining time', async () => {
      const name = uniqueName();
      const policy = circuitBreaker({
        name,
        halfOpenAfterMs: 10_000,
        openDurationBackoff: { maxMs: 40_000 },
      });
      await fail(policy, 5);
      await vi.advanceTimersByTimeAsync(10_000);
      await fail(policy); // failed trial: open for 20 s
      await vi.advanceTimersByTimeAsync(5_000);
      const json = JSON.parse(JSON.stringify(policy.toSnapshot())) as CircuitBreakerSnapshot;
      expect(json).toEqual({
        state: 'open',
        // half_open then open within one millisecond: changes stay strictly ordered.
        changedAt: Date.now() - 5_000 + 1,
        openedAt: Date.now() - 5_000,
        openDurationMs: 20_000,
        openStep: 1,
      });

      await vi.advanceTimersByTimeAsync(1_000); // the "restart"
      const restored = circuitBreaker({
        name,
        halfOpenAfterMs: 10_000,
        openDurationBackoff: { maxMs: 40_000 },
        initialState: json,
      });
      expect(restored.state).toBe('open');
      await expect(restored.execute(ok)).rejects.toEqual(rejection('open', 14_000));
      await vi.advanceTimersByTimeAsync(14_000);
      await fail(restored); // the next failed trial continues the backoff
      await expect(restored.execute(ok)).rejects.toEqual(rejection('open', 40_000));
    });

    it('restores the recorded outcomes of strategies that keep them', async () => {
      const policy = breaker();
      await fail(policy, 4);
      const copy = breaker({ initialState: policy.toSnapshot() });
      await fail(copy);
      expect(copy.state).toBe('open');
    });

    it('a half-open snapshot resumes as an open period that is over', async () => {
      const policy = breaker({ halfOpenAfterMs: 1_000, successThreshold: 1 });
      await fail(policy, 5);
      await vi.advanceTimersByTimeAsync(1_000);
      const trial = deferred();
      const running = policy.execute(trial.fn);
      const snapshot = policy.toSnapshot();
      expect(snapshot.state).toBe('half_open');
      const copy = breaker({ halfOpenAfterMs: 1_000, successThreshold: 1 });
      copy.restore(snapshot);
      expect(copy.state).toBe('open');
      await succeed(copy);
      expect(copy.state).toBe('closed');
      trial.resolve('x');
      await running;
    });

    it('restore() and initialState reject malformed snapshots', () => {
      expect(() => breaker({ initialState: { state: 'ajar' } as never })).toThrow(
        new TypeError('initialState is not a circuit breaker snapshot: state "ajar"'),
      );
      expect(() =>
        breaker().restore({ state: 'open', changedAt: 1, openStep: 0 } as CircuitBreakerSnapshot),
      ).toThrow(new TypeError('snapshot is not a circuit breaker snapshot: openedAt undefined'));
      expect(() => breaker().restore(null as never)).toThrow(TypeError);
    });

    it('an isolated snapshot stays isolated until reset', async () => {
      const source = breaker();
      source.isolate();
      const copy = breaker({ initialState: source.toSnapshot() });
      expect(copy.state).toBe('isolated');
      copy.reset();
      expect(copy.state).toBe('closed');
    });
  });

  describe('state store', () => {
    it('breakers sharing a store and a name follow each other', async () => {
      const store = new InMemoryCircuitBreakerStateStore();
      const name = uniqueName();
      const options = { name, stateStore: store, halfOpenAfterMs: 1_000, successThreshold: 1 };
      const a = circuitBreaker(options);
      const b = circuitBreaker(options);
      const bChanges: CircuitStateChange[] = [];
      b.onStateChange((change) => bChanges.push(change));
      await fail(a, 5);
      expect(b.state).toBe('open');
      const fn = vi.fn(ok);
      await expect(b.execute(fn)).rejects.toEqual(rejection('open', 1_000));
      expect(fn).not.toHaveBeenCalled();

      await vi.advanceTimersByTimeAsync(1_000);
      await succeed(a); // a's trial closes it; b follows
      expect(b.state).toBe('closed');
      expect(bChanges).toEqual([
        { from: 'closed', to: 'open' },
        { from: 'open', to: 'closed' },
      ]);
      // A different name is not affected.
      const other = circuitBreaker({ ...options, name: uniqueName() });
      await fail(a, 5);
      expect(other.state).toBe('closed');
    });

    it('a breaker created later starts from the stored state', async () => {
      const store = new InMemoryCircuitBreakerStateStore();
      const name = uniqueName();
      const a = circuitBreaker({ name, stateStore: store });
      await fail(a, 5);
      await vi.advanceTimersByTimeAsync(10_000);
      const late = circuitBreaker({ name, stateStore: store });
      expect(late.state).toBe('open');
      await expect(late.execute(ok)).rejects.toEqual(rejection('open', 50_000));
    });

    it('isolation propagates, and a locally isolated breaker ignores remote states', async () => {
      const store = new InMemoryCircuitBreakerStateStore();
      const name = uniqueName();
      const a = circuitBreaker({ name, stateStore: store });
      const b = circuitBreaker({ name, stateStore: store });
      const handle = a.isolate();
      expect(b.state).toBe('isolated');
      b.reset(); // an operator resets b: published, but a holds its isolation
      expect(b.state).toBe('closed');
      expect(a.state).toBe('isolated');
      handle.dispose();
      expect(a.state).toBe('closed');
    });

    it('works with an asynchronous store, and store failures never reach the caller', async () => {
      const logger = captureDiag(DiagLogLevel.WARN);
      const saved: CircuitBreakerSnapshot[] = [];
      const store: CircuitBreakerStateStore = {
        load: async () =>
          ({
            state: 'open',
            changedAt: Date.now(),
            openedAt: Date.now(),
            openDurationMs: 5_000,
            openStep: 0,
          }) satisfies CircuitBreakerSnapshot,
        save: async (_name, snapshot) => {
          saved.push(snapshot);
          throw new Error('redis down');
        },
      };
      const policy = breaker({ stateStore: store, halfOpenAfterMs: 5_000, successThreshold: 1 });
      expect(policy.state).toBe('closed');
      await Promise.resolve();
      expect(policy.state).toBe('open');
      await vi.advanceTimersByTimeAsync(5_000);
      await expect(policy.execute(ok)).resolves.toBe('ok');
      expect(policy.state).toBe('closed');
      expect(saved.map((s) => s.state)).toEqual(['half_open', 'closed']);
      expect(logger.error).toHaveBeenCalledWith(
        'otel-resilience: circuit breaker state store save failed',
        expect.any(Error),
      );
    });

    it('ignores malformed or older remote snapshots', async () => {
      const logger = captureDiag(DiagLogLevel.WARN);
      const listeners: Array<(s: CircuitBreakerSnapshot) => void> = [];
      const store: CircuitBreakerStateStore = {
        load: () => undefined,
        save: () => {},
        subscribe: (_name, listener) => {
          listeners.push(listener);
          return { dispose: () => listeners.splice(listeners.indexOf(listener), 1) };
        },
      };
      const policy = breaker({ stateStore: store });
      await fail(policy, 5);
      listeners[0]?.({ state: 'closed' } as CircuitBreakerSnapshot);
      listeners[0]?.({ state: 'closed', changedAt: Date.now() - 1, openStep: 0 });
      expect(policy.state).toBe('open');
      expect(logger.warn).toHaveBeenCalledTimes(1);
      listeners[0]?.({ state: 'closed', changedAt: Date.now() + 1, openStep: 0 });
      expect(policy.state).toBe('closed');
      policy.dispose();
      expect(listeners).toHaveLength(0);
    });

    it('a throwing store is reported, never thrown', () => {
      captureDiag(DiagLogLevel.ERROR);
      const store: CircuitBreakerStateStore = {
        load: () => {
          throw new Error('down');
        },
        save: () => {
          throw new Error('down');
        },
      };
      const policy = breaker({ stateStore: store });
      expect(() => policy.isolate()).not.toThrow();
      expect(policy.state).toBe('isolated');
    });
  });

  describe('telemetry series', () => {
    const gauge = (name: string, state: CircuitState) =>
      series('circuitState', {
        'resilience.name': name,
        'resilience.circuit_breaker.state': state,
      }).value;
    const transitions = (name: string, from: CircuitState, to: CircuitState) =>
      series('circuitTransitions', {
        'resilience.name': name,
        'resilience.circuit_breaker.previous_state': from,
        'resilience.circuit_breaker.state': to,
      }).value;
    const rejections = (name: string, state: CircuitState) =>
      series('circuitRejections', {
        'resilience.name': name,
        'resilience.circuit_breaker.state': state,
      }).value;

    it('the state gauge counts breakers per state; dispose() removes this one', async () => {
      const name = uniqueName();
      const a = circuitBreaker({ name, halfOpenAfterMs: 0, successThreshold: 1 });
      const b = circuitBreaker({ name });
      expect(gauge(name, 'closed')).toBe(2);
      await fail(a, 5);
      expect([gauge(name, 'closed'), gauge(name, 'open')]).toEqual([1, 1]);
      await succeed(a);
      expect([gauge(name, 'closed'), gauge(name, 'open'), gauge(name, 'half_open')]).toEqual([
        2, 0, 0,
      ]);
      b.isolate();
      expect(gauge(name, 'isolated')).toBe(1);
      b.dispose();
      b.dispose();
      expect([gauge(name, 'closed'), gauge(name, 'isolated')]).toEqual([1, 0]);
      b.reset(); // a disposed breaker still works, unobserved
      expect(gauge(name, 'closed')).toBe(1);
    });

    it('counts transitions (also manual ones) and rejections by state', async () => {
      const name = uniqueName();
      const policy = circuitBreaker({ name, halfOpenAfterMs: 1_000, successThreshold: 1 });
      await fail(policy, 5);
      await policy.execute(ok).catch(() => {});
      await policy.execute(ok).catch(() => {});
      await vi.advanceTimersByTimeAsync(1_000);
      await fail(policy);
      await vi.advanceTimersByTimeAsync(1_000);
      await succeed(policy);
      policy.isolate();
      await policy.execute(ok).catch(() => {});
      policy.reset();
      expect(transitions(name, 'closed', 'open')).toBe(1);
      expect(transitions(name, 'open', 'half_open')).toBe(2);
      expect(transitions(name, 'half_open', 'open')).toBe(1);
      expect(transitions(name, 'half_open', 'closed')).toBe(1);
      expect(transitions(name, 'closed', 'isolated')).toBe(1);
      expect(transitions(name, 'isolated', 'closed')).toBe(1);
      expect(rejections(name, 'open')).toBe(2);
      expect(rejections(name, 'isolated')).toBe(1);
    });
  });

  describe('validation', () => {
    it.each([
      [{ halfOpenAfterMs: -1 }, 'halfOpenAfterMs must be a finite number >= 0, got -1'],
      [{ halfOpenAfterMs: Number.NaN }, 'halfOpenAfterMs must be a finite number >= 0, got NaN'],
      [{ halfOpenMaxCalls: 0 }, 'halfOpenMaxCalls must be an integer >= 1, got 0'],
      [{ halfOpenMaxCalls: 1.5 }, 'halfOpenMaxCalls must be an integer >= 1, got 1.5'],
      [{ successThreshold: 0 }, 'successThreshold must be an integer >= 1, got 0'],
      [{ isFailure: 'yes' }, 'isFailure must be a function, got "yes"'],
      [{ breaker: {} }, 'breaker must be a Breaker strategy, got [object Object]'],
      [{ name: '' }, 'name must be a non-empty string of at most 128 characters, got ""'],
      [
        { openDurationBackoff: { factor: 0.5, maxMs: 120_000 } },
        'openDurationBackoff.factor must be a finite number >= 1, got 0.5',
      ],
      [
        { openDurationBackoff: { maxMs: 1_000 } },
        'openDurationBackoff.maxMs must be >= halfOpenAfterMs (60000), got 1000',
      ],
      [
        { openDurationBackoff: { maxMs: -1 } },
        'openDurationBackoff.maxMs must be a finite number >= 0, got -1',
      ],
      [
        { stateStore: { load: () => undefined } },
        'stateStore must have load(), save() and optionally subscribe(), got [object Object]',
      ],
    ])('rejects %o', (options, message) => {
      expect(() => circuitBreaker(options as CircuitBreakerOptions)).toThrow(
        new TypeError(message),
      );
    });

    it('has the documented defaults', () => {
      const policy = circuitBreaker();
      expect(policy.name).toBe('circuit_breaker');
      expect(policy.halfOpenAfterMs).toBe(60_000);
      expect(policy.halfOpenMaxCalls).toBe(1);
      expect(policy.successThreshold).toBe(3);
      expect(policy.state).toBe('closed');
      policy.dispose();
    });
  });
});

describe('circuitBreaker telemetry with an SDK installed', () => {
  const otel = useTestTelemetry();

  it('exports the state gauge, transitions and rejections with exact names and attributes', async () => {
    const policy = circuitBreaker({ name: 'sdk-payments', halfOpenAfterMs: 60_000 });
    await fail(policy, 5);
    await policy.execute(ok).catch(() => {});
    await policy.execute(ok).catch(() => {});
    const isolation = policy.isolate();
    await policy.execute(ok).catch(() => {});
    isolation.dispose();

    const data = await otel.collect();
    const descriptor = (name: string) => {
      const metric = data.find((m) => m.descriptor.name === name);
      return { unit: metric?.descriptor.unit, dataPointType: metric?.dataPointType };
    };
    expect(descriptor('resilience.circuit_breaker.state')).toEqual({
      unit: '{state}',
      dataPointType: DataPointType.GAUGE,
    });
    expect(descriptor('resilience.circuit_breaker.transitions')).toEqual({
      unit: '{transition}',
      dataPointType: DataPointType.SUM,
    });
    expect(descriptor('resilience.circuit_breaker.rejections')).toEqual({
      unit: '{call}',
      dataPointType: DataPointType.SUM,
    });
    const mine = (name: string) =>
      points(data, name).filter((p) => p.attributes['resilience.name'] === 'sdk-payments');
    expect(mine('resilience.circuit_breaker.state')).toEqual(
      expect.arrayContaining([
        {
          attributes: {
            'resilience.name': 'sdk-payments',
            'resilience.circuit_breaker.state': 'closed',
          },
          value: 1,
        },
        {
          attributes: {
            'resilience.name': 'sdk-payments',
            'resilience.circuit_breaker.state': 'open',
          },
          value: 0,
        },
        {
          attributes: {
            'resilience.name': 'sdk-payments',
            'resilience.circuit_breaker.state': 'isolated',
          },
          value: 0,
        },
      ]),
    );
    expect(mine('resilience.circuit_breaker.state')).toHaveLength(3);
    const transition = (from: string, to: string, value: number) => ({
      attributes: {
        'resilience.name': 'sdk-payments',
        'resilience.circuit_breaker.previous_state': from,
        'resilience.circuit_breaker.state': to,
      },
      value,
    });
    expect(mine('resilience.circuit_breaker.transitions')).toEqual(
      expect.arrayContaining([
        transition('closed', 'open', 1),
        transition('open', 'isolated', 1),
        transition('isolated', 'closed', 1),
      ]),
    );
    expect(mine('resilience.circuit_breaker.transitions')).toHaveLength(3);
    expect(mine('resilience.circuit_breaker.rejections')).toEqual(
      expect.arrayContaining([
        {
          attributes: {
            'resilience.name': 'sdk-payments',
            'resilience.circuit_breaker.state': 'open',
          },
          value: 2,
        },
        {
          attributes: {
            'resilience.name': 'sdk-payments',
            'resilience.circuit_breaker.state': 'isolated',
          },
          value: 1,
        },
        {
          // Made with the breaker, at 0 until it refuses a call in that state.
          attributes: {
            'resilience.name': 'sdk-payments',
            'resilience.circuit_breaker.state': 'half_open',
          },
          value: 0,
        },
      ]),
    );
    expect(mine('resilience.circuit_breaker.rejections')).toHaveLength(3);
    policy.dispose();
  });

  it('adds transition and rejection span events to the call that caused them, none for manual ones', async () => {
    const policy = circuitBreaker({ name: 'sdk-events', halfOpenAfterMs: 0, successThreshold: 1 });
    await fail(policy, 5);
    await policy.execute(ok);
    policy.isolate();
    await policy.execute(ok).catch(() => {});

    const spans = otel.spans().filter((s) => s.name === 'resilience sdk-events');
    expect(spans).toHaveLength(7);
    const events = spans.map((s) =>
      s.events.map((e) => ({ name: e.name, attributes: e.attributes })),
    );
    expect(events.slice(0, 4)).toEqual([[], [], [], []]);
    expect(events[4]).toEqual([
      {
        name: 'resilience.circuit_breaker.transition',
        attributes: {
          'resilience.name': 'sdk-events',
          'resilience.circuit_breaker.previous_state': 'closed',
          'resilience.circuit_breaker.state': 'open',
        },
      },
    ]);
    expect(events[5]?.map((e) => e.attributes?.['resilience.circuit_breaker.state'])).toEqual([
      'half_open',
      'closed',
    ]);
    expect(events[6]).toEqual([
      {
        name: 'resilience.circuit_breaker.rejection',
        attributes: {
          'resilience.name': 'sdk-events',
          'resilience.circuit_breaker.state': 'isolated',
        },
      },
    ]);
    expect(spans[6]?.attributes['error.type']).toBe('circuit_open');
    policy.dispose();
  });
});
