import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runWithDeadline } from './DeadlineContext.js';
import { isTimeoutExceededError, TimeoutExceededError } from './errors/TimeoutExceededError.js';
import { timeout } from './TimeoutPolicy.js';
import { series } from './telemetry/metrics.js';

const never = () => new Promise<never>(() => {});

describe('timeout', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('returns the value of a function that finishes in time and fires nothing later', async () => {
    const policy = timeout(100);
    let seen: AbortSignal | undefined;
    await expect(
      policy.execute(({ signal }) => {
        seen = signal;
        return 42;
      }),
    ).resolves.toBe(42);
    await vi.advanceTimersByTimeAsync(100);
    expect(seen?.aborted).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('cooperative: aborts the signal at the deadline and rejects with a typed error once fn gives up', async () => {
    const policy = timeout(100, { name: 'coop' });
    let seen: AbortSignal | undefined;
    const result = policy.execute(
      ({ signal }) =>
        new Promise((_, reject) => {
          seen = signal;
          signal.addEventListener('abort', () => reject(new Error('stopped')));
        }),
    );
    const assertion = expect(result).rejects.toSatisfy(
      (error) => isTimeoutExceededError(error) && (error as Error).cause instanceof Error,
    );
    await vi.advanceTimersByTimeAsync(99);
    expect(seen?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(seen?.aborted).toBe(true);
    expect(isTimeoutExceededError(seen?.reason)).toBe(true);
    await assertion;
  });

  it('cooperative: a function that ignores the signal and resolves late keeps its value', async () => {
    const policy = timeout(10);
    const result = policy.execute(
      () => new Promise((resolve) => setTimeout(() => resolve('late'), 50)),
    );
    await vi.advanceTimersByTimeAsync(50);
    await expect(result).resolves.toBe('late');
  });

  it('aggressive: releases the caller at the deadline even if fn never settles', async () => {
    const policy = timeout(100, { strategy: 'aggressive' });
    const result = policy.execute(never);
    const assertion = expect(result).rejects.toBeInstanceOf(TimeoutExceededError);
    await vi.advanceTimersByTimeAsync(100);
    await assertion;
    expect(vi.getTimerCount()).toBe(0);
  });

  it('serves many concurrent calls with a single timer', async () => {
    const policy = timeout(100, { strategy: 'aggressive' });
    const calls = Array.from({ length: 50 }, () => policy.execute(never).catch((e) => e));
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(100);
    const errors = await Promise.all(calls);
    expect(errors.every(isTimeoutExceededError)).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('times out calls started at different moments each at its own deadline', async () => {
    const policy = timeout(100, { strategy: 'aggressive' });
    const settled: number[] = [];
    const first = policy.execute(never).catch(() => settled.push(1));
    await vi.advanceTimersByTimeAsync(30);
    const second = policy.execute(never).catch(() => settled.push(2));
    await vi.advanceTimersByTimeAsync(70);
    expect(settled).toEqual([1]);
    await vi.advanceTimersByTimeAsync(29);
    expect(settled).toEqual([1]);
    await vi.advanceTimersByTimeAsync(1);
    expect(settled).toEqual([1, 2]);
    await Promise.all([first, second]);
  });

  it('follows the caller signal: aborting it aborts the signal fn sees', async () => {
    const policy = timeout(1_000);
    const caller = new AbortController();
    let seen: AbortSignal | undefined;
    const result = policy.execute(({ signal }) => {
      seen = signal;
      return new Promise((_, reject) =>
        signal.addEventListener('abort', () => reject(signal.reason)),
      );
    }, caller.signal);
    caller.abort(new Error('client went away'));
    await expect(result).rejects.toThrow('client went away');
    expect(seen?.aborted).toBe(true);
  });

  it('is shortened by the deadline scope and says so', async () => {
    const policy = timeout(1_000, { strategy: 'aggressive', name: 'deadline-test' });
    const before = series('timeouts', {
      'resilience.name': 'deadline-test',
      'resilience.timeout.strategy': 'aggressive',
      'resilience.timeout.source': 'deadline',
    }).value;
    const result = runWithDeadline({ timeoutMs: 50 }, () => policy.execute(never));
    const assertion = expect(result).rejects.toSatisfy(
      (e) => isTimeoutExceededError(e) && e.source === 'deadline',
    );
    await vi.advanceTimersByTimeAsync(50);
    await assertion;
    expect(
      series('timeouts', {
        'resilience.name': 'deadline-test',
        'resilience.timeout.strategy': 'aggressive',
        'resilience.timeout.source': 'deadline',
      }).value,
    ).toBe(before + 1);
  });

  it('does not start fn when the deadline has already passed', async () => {
    const policy = timeout(1_000);
    const fn = vi.fn();
    const result = runWithDeadline({ timeoutMs: 0 }, () => policy.execute(fn));
    await expect(result).rejects.toSatisfy((e) => isTimeoutExceededError(e));
    expect(fn).not.toHaveBeenCalled();
  });

  it('does not create an AbortController for a function that never reads the signal', async () => {
    const spy = vi.spyOn(globalThis, 'AbortController');
    await timeout(100).execute(() => 1);
    expect(spy).not.toHaveBeenCalled();
    spy.mockRestore();
  });

  it('rejects bad options naming them', () => {
    expect(() => timeout(-1)).toThrow(/timeoutMs must be a finite number >= 0, got -1/);
    expect(() => timeout(Number.NaN)).toThrow(/timeoutMs/);
    expect(() => timeout(10, { strategy: 'eager' as never })).toThrow(/strategy must be/);
    expect(() => timeout(10, { name: '' })).toThrow(/name must be a non-empty string/);
  });
});
