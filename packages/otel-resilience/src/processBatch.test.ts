import { afterEach, beforeEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import type { CallContext, PolicyFunction } from './ExecuteContext.js';
import { isAbortedError } from './errors/AbortedError.js';
import { invoke, PolicyBase, RUN } from './Policy.js';
import { type BatchFailure, type BatchSuccess, processBatch } from './processBatch.js';
import { timeout } from './TimeoutPolicy.js';
import { wrap } from './wrap.js';

/** A minimal retry (the real one lives in RetryPolicy.ts): retries retryable failures at once. */
class TestRetry extends PolicyBase {
  constructor(private readonly maxAttempts: number) {
    super({ name: 'batch-test-retry' }, 'retry');
  }

  async [RUN]<T>(fn: PolicyFunction<T>, ctx: CallContext): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await invoke(fn, ctx.withAttempt(attempt));
      } catch (error) {
        if (attempt >= this.maxAttempts || !ctx.execution.classify(error).retryable) throw error;
      }
    }
  }
}

const reset = () =>
  Object.assign(new Error('connection reset by db-7.internal:5432'), { code: 'ECONNRESET' });
const notFound = () => Object.assign(new Error('no row id=12345'), { status: 404 });

describe('processBatch', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('reports successes and failures with per-item attempt histories', async () => {
    const tries = new Map<number, number>();
    const batch = processBatch(
      ['a', 'b', 'c', 'd', 'e'],
      async (item, index, { attempt }) => {
        tries.set(index, (tries.get(index) ?? 0) + 1);
        await new Promise((resolve) => setTimeout(resolve, 10));
        if (item === 'b' && attempt < 2) throw reset(); // recovers on the second attempt
        if (item === 'c') throw reset(); // transient every time: retried to exhaustion
        if (item === 'd') throw notFound(); // data: never retried
        return item.toUpperCase();
      },
      { policy: wrap(new TestRetry(3), timeout(1_000)) },
    );
    await vi.runAllTimersAsync();
    const { succeeded, failed } = await batch;

    expect(succeeded).toEqual([
      { item: 'a', index: 0, value: 'A', attempts: 1 },
      { item: 'b', index: 1, value: 'B', attempts: 2 },
      { item: 'e', index: 4, value: 'E', attempts: 1 },
    ]);
    expect(failed.map((f) => f.index)).toEqual([2, 3]);
    const [c, d] = failed as [BatchFailure<string>, BatchFailure<string>];
    expect(c.item).toBe('c');
    expect((c.error as { code: string }).code).toBe('ECONNRESET');
    expect(c.classification).toMatchObject({ category: 'transient', errorType: 'ECONNRESET' });
    expect(c.attempts).toEqual([
      { attempt: 1, errorType: 'ECONNRESET', category: 'transient', durationMs: 10 },
      { attempt: 2, errorType: 'ECONNRESET', category: 'transient', durationMs: 10 },
      { attempt: 3, errorType: 'ECONNRESET', category: 'transient', durationMs: 10 },
    ]);
    expect(d.attempts).toEqual([
      { attempt: 1, errorType: '404', category: 'data', durationMs: 10 },
    ]);
    expect(tries.get(2)).toBe(3);
    expect(tries.get(3)).toBe(1);
    // Histories hold bounded facts only: no message (hosts, ids) is copied into them.
    const histories = JSON.stringify(failed.map((f) => f.attempts));
    expect(histories).not.toContain('db-7');
    expect(histories).not.toContain('12345');
  });

  it('without a policy tries each item once', async () => {
    const { succeeded, failed } = await processBatch([1, 2, 3], (n) => {
      if (n === 2) throw reset();
      return n * 10;
    });
    expect(succeeded.map((s) => s.value)).toEqual([10, 30]);
    expect(failed).toHaveLength(1);
    expect(failed[0]?.attempts).toHaveLength(1);
    expect(failed[0]?.attempts[0]).toMatchObject({ attempt: 1, errorType: 'ECONNRESET' });
  });

  it('never runs more than `concurrency` items at once, and keeps input order', async () => {
    const items = Array.from({ length: 60 }, (_, i) => i);
    let inFlight = 0;
    let maxInFlight = 0;
    const batch = processBatch(
      items,
      async (n) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        // Later items finish sooner, so completion order differs from input order.
        await new Promise((resolve) => setTimeout(resolve, 100 - n));
        inFlight--;
        if (n % 7 === 0) throw notFound();
        return n;
      },
      { concurrency: 5 },
    );
    await vi.runAllTimersAsync();
    const { succeeded, failed } = await batch;
    expect(maxInFlight).toBe(5);
    expect(succeeded.map((s) => s.index)).toEqual(items.filter((n) => n % 7 !== 0));
    expect(succeeded.every((s) => s.value === s.index)).toBe(true);
    expect(failed.map((f) => f.index)).toEqual(items.filter((n) => n % 7 === 0));
  });

  it('uses 4 workers by default', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const batch = processBatch(Array.from({ length: 20 }), async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 5));
      inFlight--;
    });
    await vi.runAllTimersAsync();
    await batch;
    expect(maxInFlight).toBe(4);
  });

  it('stops scheduling on abort and reports the items not started as aborted', async () => {
    const controller = new AbortController();
    const started: number[] = [];
    const progress: Array<[number, number, boolean]> = [];
    const batch = processBatch(
      Array.from({ length: 10 }, (_, i) => i),
      (n, _index, { signal }) => {
        started.push(n);
        return new Promise((resolve, reject) => {
          const timer = setTimeout(() => resolve(n), 100);
          signal.addEventListener('abort', () => {
            clearTimeout(timer);
            reject(signal.reason);
          });
        });
      },
      {
        concurrency: 2,
        signal: controller.signal,
        onItem: (outcome, { completed, total }) => {
          progress.push([completed, total, 'error' in outcome]);
        },
      },
    );
    await vi.advanceTimersByTimeAsync(100); // items 0 and 1 finish, 2 and 3 start
    const reason = new Error('shutting down');
    controller.abort(reason);
    const { succeeded, failed } = await batch;

    expect(started).toEqual([0, 1, 2, 3]);
    expect(succeeded.map((s) => s.index)).toEqual([0, 1]);
    expect(failed.map((f) => f.index)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    // In-flight items saw the abort through their signal.
    expect(failed[0]?.error).toBe(reason);
    expect(failed[0]?.attempts).toHaveLength(1);
    // Items never started fail with an AbortedError and an empty history.
    const notStarted = failed.slice(2);
    expect(notStarted.every((f) => isAbortedError(f.error) && f.attempts.length === 0)).toBe(true);
    expect((notStarted[0]!.error as Error).cause).toBe(reason);
    expect(progress.map(([completed]) => completed)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(progress.every(([, total]) => total === 10)).toBe(true);
    expect(progress.filter(([, , isFailure]) => isFailure)).toHaveLength(8);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('starts nothing when the signal has already aborted', async () => {
    const processItem = vi.fn();
    const { succeeded, failed } = await processBatch([1, 2, 3], processItem, {
      signal: AbortSignal.abort(),
    });
    expect(processItem).not.toHaveBeenCalled();
    expect(succeeded).toEqual([]);
    expect(failed.map((f) => f.index)).toEqual([0, 1, 2]);
  });

  it('is not broken by an onItem hook that throws', async () => {
    const { succeeded } = await processBatch([1, 2], (n) => n, {
      onItem: () => {
        throw new Error('hook bug');
      },
    });
    expect(succeeded).toHaveLength(2);
  });

  it('accepts any iterable', async () => {
    function* generate() {
      yield 'x';
      yield 'y';
    }
    const { succeeded } = await processBatch(generate(), (s, index) => `${s}${index}`);
    expect(succeeded.map((s) => s.value)).toEqual(['x0', 'y1']);
  });

  it('handles an empty batch', async () => {
    await expect(processBatch([], () => 1)).resolves.toEqual({ succeeded: [], failed: [] });
  });

  it('processes 100k items without deep stacks, through a policy', async () => {
    vi.useRealTimers();
    const items = Array.from({ length: 100_000 }, (_, i) => i);
    const { succeeded, failed } = await processBatch(
      items,
      (n) => {
        if (n % 1_000 === 0) throw notFound();
        return n;
      },
      { concurrency: 16, policy: new TestRetry(2) },
    );
    expect(succeeded).toHaveLength(99_900);
    expect(failed).toHaveLength(100);
    expect(succeeded[99_899]?.index).toBe(99_999);
    expect(failed[99]?.index).toBe(99_000);
  });

  it('types the results', async () => {
    const result = await processBatch([1], (n) => String(n));
    expectTypeOf(result.succeeded).toEqualTypeOf<BatchSuccess<number, string>[]>();
    expectTypeOf(result.failed).toEqualTypeOf<BatchFailure<number>[]>();
  });

  it('rejects bad arguments synchronously, naming them', () => {
    const fn = () => 1;
    expect(() => processBatch([1], fn, { concurrency: 0 })).toThrow(
      /concurrency must be an integer >= 1, got 0/,
    );
    expect(() => processBatch([1], fn, { concurrency: 2.5 })).toThrow(/concurrency/);
    expect(() => processBatch([1], fn, { concurrency: Number.POSITIVE_INFINITY })).toThrow(
      /concurrency/,
    );
    expect(() => processBatch([1], 'fn' as never)).toThrow(/processItem must be a function/);
    expect(() => processBatch(5 as never, fn)).toThrow(/items must be an iterable, got 5/);
    expect(() => processBatch(null as never, fn)).toThrow(/items must be an iterable/);
    expect(() => processBatch([1], fn, { policy: 3 as never })).toThrow(/policy must be a policy/);
    expect(() => processBatch([1], fn, { onItem: {} as never })).toThrow(
      /onItem must be a function/,
    );
  });
});
