import { getEventListeners } from 'node:events';
import { trace } from '@opentelemetry/api';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BulkheadPolicy, bulkhead } from './BulkheadPolicy.js';
import { AbortedError, isAbortedError } from './errors/AbortedError.js';
import { BulkheadRejectedError, isBulkheadRejectedError } from './errors/BulkheadRejectedError.js';
import { isTimeoutExceededError } from './errors/TimeoutExceededError.js';
import { timeout } from './TimeoutPolicy.js';
import { EVENT_BULKHEAD_REJECTION } from './telemetry/attributes.js';
import { series } from './telemetry/metrics.js';
import { points, useTestTelemetry } from './testing/otel.js';
import { wrap } from './wrap.js';

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every pending promise reaction run. */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

const seriesOf = (key: 'bulkheadActive' | 'bulkheadQueued' | 'bulkheadRejections', name: string) =>
  series(key, { 'resilience.name': name });

describe('bulkhead', () => {
  it('runs at most maxConcurrent executions and queues the rest', async () => {
    const policy = bulkhead(2, { maxQueued: 10, name: 'limit' });
    const gates = Array.from({ length: 5 }, () => deferred());
    let running = 0;
    let maxRunning = 0;
    const calls = gates.map((gate, i) =>
      policy.execute(async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await gate.promise;
        running--;
        return i;
      }),
    );
    await flush();
    expect(running).toBe(2);
    expect(policy.active).toBe(2);
    expect(policy.queued).toBe(3);
    expect(policy.capacity).toBe(7);
    expect(seriesOf('bulkheadActive', 'limit').value).toBe(2);
    expect(seriesOf('bulkheadQueued', 'limit').value).toBe(3);
    for (const gate of gates) {
      gate.resolve();
      await flush();
    }
    await expect(Promise.all(calls)).resolves.toEqual([0, 1, 2, 3, 4]);
    expect(maxRunning).toBe(2);
    expect(policy.active).toBe(0);
    expect(policy.queued).toBe(0);
    expect(policy.capacity).toBe(12);
  });

  it('starts queued calls in FIFO order as slots free up', async () => {
    const policy = bulkhead(1, { maxQueued: 5 });
    const started: number[] = [];
    const gates = Array.from({ length: 4 }, () => deferred());
    const calls = gates.map((gate, i) =>
      policy.execute(() => {
        started.push(i);
        return gate.promise;
      }),
    );
    await flush();
    expect(started).toEqual([0]);
    // Freeing slots out of order must not reorder the queue.
    gates[0]!.resolve();
    await flush();
    expect(started).toEqual([0, 1]);
    gates[1]!.resolve();
    await flush();
    expect(started).toEqual([0, 1, 2]);
    gates[2]!.resolve();
    gates[3]!.resolve();
    await Promise.all(calls);
    expect(started).toEqual([0, 1, 2, 3]);
  });

  it('hands a freed slot to the oldest waiter, not to a newcomer', async () => {
    const policy = bulkhead(1, { maxQueued: 1 });
    const first = deferred();
    const order: string[] = [];
    const a = policy.execute(() => first.promise);
    const b = policy.execute(() => {
      order.push('queued');
    });
    first.resolve();
    await a;
    // The slot is reserved for the queued call: a newcomer now has to queue (or is shed).
    const c = policy.execute(() => {
      order.push('newcomer');
    });
    await Promise.all([b, c]);
    expect(order).toEqual(['queued', 'newcomer']);
  });

  it('rejects at once with BulkheadRejectedError when slots and queue are full', async () => {
    const policy = bulkhead(1, { maxQueued: 1, name: 'full' });
    const rejections = seriesOf('bulkheadRejections', 'full');
    const before = rejections.value;
    const seen: BulkheadRejectedError[] = [];
    policy.onReject((error) => seen.push(error));
    const gate = deferred();
    const running = policy.execute(() => gate.promise);
    const queued = policy.execute(() => 'queued');
    const fn = vi.fn();
    const rejected = policy.execute(fn);
    await expect(rejected).rejects.toBeInstanceOf(BulkheadRejectedError);
    await expect(rejected).rejects.toMatchObject({ bulkheadName: 'full', active: 1, queued: 1 });
    expect(fn).not.toHaveBeenCalled();
    expect(rejections.value).toBe(before + 1);
    expect(seen).toHaveLength(1);
    expect(isBulkheadRejectedError(seen[0])).toBe(true);
    gate.resolve();
    await running;
    await expect(queued).resolves.toBe('queued');
  });

  it('without a queue (the default) sheds every call beyond maxConcurrent', async () => {
    const policy = bulkhead(1);
    expect(policy.maxQueued).toBe(0);
    const gate = deferred();
    const running = policy.execute(() => gate.promise);
    await expect(policy.execute(() => 1)).rejects.toSatisfy(isBulkheadRejectedError);
    gate.resolve();
    await running;
    await expect(policy.execute(() => 2)).resolves.toBe(2);
  });

  it('a listener that throws does not change the rejection', async () => {
    const policy = bulkhead(1);
    policy.onReject(() => {
      throw new Error('listener bug');
    });
    const gate = deferred();
    const running = policy.execute(() => gate.promise);
    await expect(policy.execute(() => 1)).rejects.toBeInstanceOf(BulkheadRejectedError);
    gate.resolve();
    await running;
  });

  it('frees the slot when fn rejects or throws synchronously', async () => {
    const policy = bulkhead(1, { maxQueued: 2 });
    const gate = deferred();
    const failing = policy.execute(async () => {
      await gate.promise;
      throw new Error('boom');
    });
    const throwing = policy.execute(() => {
      throw new Error('sync boom');
    });
    const last = policy.execute(() => 'ok');
    gate.resolve();
    await expect(failing).rejects.toThrow('boom');
    await expect(throwing).rejects.toThrow('sync boom');
    await expect(last).resolves.toBe('ok');
    expect(policy.active).toBe(0);
    expect(policy.queued).toBe(0);
  });

  it('a queued call whose caller aborts leaves the queue at once and leaks no listener', async () => {
    const policy = bulkhead(1, { maxQueued: 2, name: 'abort-queued' });
    const gate = deferred();
    const running = policy.execute(() => gate.promise);
    const caller = new AbortController();
    const fn = vi.fn();
    const queued = policy.execute(fn, caller.signal);
    const other = new AbortController();
    const next = policy.execute(() => 'next', other.signal);
    expect(policy.queued).toBe(2);
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(1);

    const reason = new Error('client went away');
    caller.abort(reason);
    await expect(queued).rejects.toBeInstanceOf(AbortedError);
    await expect(queued).rejects.toMatchObject({ cause: reason });
    expect(policy.queued).toBe(1);
    expect(seriesOf('bulkheadQueued', 'abort-queued').value).toBe(1);
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);

    gate.resolve();
    await running;
    await expect(next).resolves.toBe('next');
    expect(fn).not.toHaveBeenCalled();
    // A granted waiter removes its listener too.
    expect(getEventListeners(other.signal, 'abort')).toHaveLength(0);
    expect(policy.active).toBe(0);
    expect(policy.queued).toBe(0);
  });

  it('aborting a call in the middle of the queue keeps the others in order', async () => {
    const policy = bulkhead(1, { maxQueued: 3 });
    const gate = deferred();
    const started: string[] = [];
    const running = policy.execute(() => gate.promise);
    const middle = new AbortController();
    const a = policy.execute(() => {
      started.push('a');
    });
    const b = policy.execute(() => {
      started.push('b');
    }, middle.signal);
    const c = policy.execute(() => {
      started.push('c');
    });
    middle.abort();
    await expect(b).rejects.toSatisfy(isAbortedError);
    gate.resolve();
    await Promise.all([running, a, c]);
    expect(started).toEqual(['a', 'c']);
  });

  describe('with a timeout outside it', () => {
    beforeEach(() => vi.useFakeTimers());
    afterEach(() => vi.useRealTimers());

    it('a deadline passing while queued rejects the queued call and leaves nothing behind', async () => {
      const pool = bulkhead(1, { maxQueued: 1 });
      const policy = wrap(timeout(100), pool);
      const gate = deferred();
      const running = pool.execute(() => gate.promise);
      const fn = vi.fn();
      const queued = policy.execute(fn);
      const assertion = expect(queued).rejects.toSatisfy(isTimeoutExceededError);
      expect(pool.queued).toBe(1);
      await vi.advanceTimersByTimeAsync(100);
      await assertion;
      expect(pool.queued).toBe(0);
      expect(fn).not.toHaveBeenCalled();
      gate.resolve();
      await running;
      expect(pool.active).toBe(0);
      expect(vi.getTimerCount()).toBe(0);
    });
  });

  it('brings the active and queued series back to 0 after a busy period', async () => {
    const policy = bulkhead(3, { maxQueued: 20, name: 'series-zero' });
    const calls = Array.from({ length: 20 }, (_, i) =>
      policy.execute(async () => {
        await flush();
        if (i % 4 === 0) throw new Error('fails');
        return i;
      }),
    );
    const settled = Promise.allSettled(calls);
    await Promise.resolve();
    expect(seriesOf('bulkheadActive', 'series-zero').value).toBe(3);
    expect(seriesOf('bulkheadQueued', 'series-zero').value).toBe(17);
    await settled;
    expect(seriesOf('bulkheadActive', 'series-zero').value).toBe(0);
    expect(seriesOf('bulkheadQueued', 'series-zero').value).toBe(0);
  });

  it('allows an unbounded queue with maxQueued: Infinity', async () => {
    const policy = bulkhead(1, { maxQueued: Number.POSITIVE_INFINITY });
    const results = await Promise.all(
      Array.from({ length: 1_000 }, (_, i) => policy.execute(() => i)),
    );
    expect(results[999]).toBe(999);
    expect(policy.capacity).toBe(Number.POSITIVE_INFINITY);
  });

  it('rejects bad options naming them', () => {
    expect(() => bulkhead(0)).toThrow(/maxConcurrent must be an integer >= 1, got 0/);
    expect(() => bulkhead(1.5)).toThrow(/maxConcurrent .* got 1.5/);
    expect(() => bulkhead(Number.NaN)).toThrow(TypeError);
    expect(() => bulkhead(Number.POSITIVE_INFINITY)).toThrow(/maxConcurrent/);
    expect(() => bulkhead(1, { maxQueued: -1 })).toThrow(
      /maxQueued must be an integer >= 0.* got -1/,
    );
    expect(() => bulkhead(1, { maxQueued: 0.5 })).toThrow(/maxQueued/);
    expect(() => bulkhead(1, { maxQueued: '3' as never })).toThrow(/maxQueued .* got "3"/);
    expect(() => bulkhead(1, { name: '' })).toThrow(/name must be a non-empty string/);
    expect(bulkhead(2)).toBeInstanceOf(BulkheadPolicy);
  });

  describe('with an OpenTelemetry SDK', () => {
    const otel = useTestTelemetry();

    it('adds a rejection span event and exports the series', async () => {
      const policy = bulkhead(1, { name: 'otel-bulkhead' });
      const gate = deferred();
      const running = policy.execute(() => gate.promise);
      await expect(policy.execute(() => 1)).rejects.toBeInstanceOf(BulkheadRejectedError);
      const metrics = await otel.collect();
      expect(points(metrics, 'resilience.bulkhead.active')).toContainEqual({
        attributes: { 'resilience.name': 'otel-bulkhead' },
        value: 1,
      });
      gate.resolve();
      await running;
      const rejectedSpan = otel
        .spans()
        .find((span) => span.events.some((event) => event.name === EVENT_BULKHEAD_REJECTION));
      expect(rejectedSpan?.events[0]?.attributes).toEqual({ 'resilience.name': 'otel-bulkhead' });
      const after = await otel.collect();
      expect(points(after, 'resilience.bulkhead.active')).toContainEqual({
        attributes: { 'resilience.name': 'otel-bulkhead' },
        value: 0,
      });
      expect(points(after, 'resilience.bulkhead.rejections')).toContainEqual({
        attributes: { 'resilience.name': 'otel-bulkhead' },
        value: 1,
      });
    });

    it('runs a queued function under its own call span, not the one that freed the slot', async () => {
      const policy = bulkhead(1, { maxQueued: 1, name: 'ctx-bulkhead' });
      const gate = deferred();
      const seen: Array<string | undefined> = [];
      const first = policy.execute(async () => {
        seen.push(trace.getActiveSpan()?.spanContext().spanId);
        await gate.promise;
      });
      const second = policy.execute(() => {
        seen.push(trace.getActiveSpan()?.spanContext().spanId);
      });
      gate.resolve();
      await Promise.all([first, second]);
      const spans = otel.spans().filter((span) => span.name === 'resilience ctx-bulkhead');
      expect(spans).toHaveLength(2);
      expect(new Set(seen)).toEqual(new Set(spans.map((span) => span.spanContext().spanId)));
      expect(seen[0]).not.toBe(seen[1]);
    });
  });
});
