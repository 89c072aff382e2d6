import { AsyncLocalStorage } from 'node:async_hooks';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { currentDeadlineScope, remainingTimeMs, runWithDeadline } from './DeadlineContext.js';
import { isAbortedError } from './errors/AbortedError.js';
import { timeout } from './TimeoutPolicy.js';

describe('deadline context', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('is absent outside any scope', () => {
    expect(currentDeadlineScope()).toBeUndefined();
    expect(remainingTimeMs()).toBe(Number.POSITIVE_INFINITY);
  });

  it('carries the deadline across awaits and counts down', async () => {
    await runWithDeadline({ timeoutMs: 1_000 }, async () => {
      expect(remainingTimeMs()).toBe(1_000);
      await vi.advanceTimersByTimeAsync(300);
      expect(remainingTimeMs()).toBe(700);
      await vi.advanceTimersByTimeAsync(5_000);
      expect(remainingTimeMs()).toBe(0);
    });
  });

  it('lets a nested scope shorten the deadline but never extend it', () => {
    runWithDeadline({ timeoutMs: 500 }, () => {
      runWithDeadline({ timeoutMs: 2_000 }, () => expect(remainingTimeMs()).toBe(500));
      runWithDeadline({ timeoutMs: 100 }, () => expect(remainingTimeMs()).toBe(100));
      runWithDeadline({}, () => expect(remainingTimeMs()).toBe(500));
    });
  });

  it('inherits the signal and lets policies stop when the caller gives up', async () => {
    const caller = new AbortController();
    const policy = timeout(10_000);
    const result = runWithDeadline({ signal: caller.signal }, () => {
      expect(currentDeadlineScope()?.signal).toBe(caller.signal);
      return runWithDeadline({ timeoutMs: 5_000 }, () =>
        policy.execute(
          ({ signal }) =>
            new Promise((_, reject) =>
              signal.addEventListener('abort', () => reject(signal.reason)),
            ),
        ),
      );
    });
    caller.abort(new Error('client disconnected'));
    await expect(result).rejects.toThrow('client disconnected');
  });

  it('refuses to start a call whose scope signal already aborted', async () => {
    const fn = vi.fn();
    const result = runWithDeadline({ signal: AbortSignal.abort('gone') }, () =>
      timeout(100).execute(fn),
    );
    await expect(result).rejects.toSatisfy(isAbortedError);
    expect(fn).not.toHaveBeenCalled();
  });

  it('keeps its store on a global symbol, so every copy of the package (ESM and CJS) shares it', () => {
    const shared = (globalThis as Record<symbol, unknown>)[
      Symbol.for('otel-resilience.deadline-scope')
    ] as AsyncLocalStorage<unknown>;
    expect(shared).toBeInstanceOf(AsyncLocalStorage);
    runWithDeadline({ timeoutMs: 1_000 }, () => {
      expect(shared.getStore()).toBe(currentDeadlineScope());
    });
  });

  it('rejects a bad timeout naming it', () => {
    expect(() => runWithDeadline({ timeoutMs: -5 }, () => 1)).toThrow(
      /timeoutMs must be a number >= 0/,
    );
  });
});
