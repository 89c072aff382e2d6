import { diag } from '@opentelemetry/api';
import { afterEach, beforeEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import { Classifier } from './classification/Classifier.js';
import { isTimeoutExceededError } from './errors/TimeoutExceededError.js';
import { safeExecute } from './safeExecute.js';
import { timeout } from './TimeoutPolicy.js';

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('safeExecute', () => {
  it('returns the value of a function that succeeds', async () => {
    await expect(safeExecute(() => 42, 0)).resolves.toBe(42);
    await expect(safeExecute(async () => 'async', 'default')).resolves.toBe('async');
  });

  it('returns the default when the function rejects or throws', async () => {
    await expect(safeExecute(() => Promise.reject(new Error('down')), [])).resolves.toEqual([]);
    await expect(
      safeExecute(() => {
        throw new Error('sync');
      }, 'default'),
    ).resolves.toBe('default');
  });

  it('computes the default from the error when given a function', async () => {
    const error = Object.assign(new Error('down'), { status: 503 });
    await expect(
      safeExecute(
        () => Promise.reject(error),
        (e) => `failed with ${(e as { status: number }).status}`,
      ),
    ).resolves.toBe('failed with 503');
  });

  it('rejects only when the default function itself throws', async () => {
    await expect(
      safeExecute(
        () => Promise.reject(new Error('down')),
        () => {
          throw new Error('default bug');
        },
      ),
    ).rejects.toThrow('default bug');
  });

  it('tells onError about the failure with its classification', async () => {
    const onError = vi.fn();
    const error = Object.assign(new Error('reset'), { code: 'ECONNRESET' });
    await expect(safeExecute(() => Promise.reject(error), 'd', { onError })).resolves.toBe('d');
    expect(onError).toHaveBeenCalledWith(
      error,
      expect.objectContaining({ category: 'transient', errorType: 'ECONNRESET' }),
    );
  });

  it('classifies with the given classifier', async () => {
    const onError = vi.fn();
    const classifier = new Classifier({
      rules: [() => ({ category: 'data', errorType: 'custom' })],
    });
    await safeExecute(() => Promise.reject(new Error('x')), null, { onError, classifier });
    expect(onError.mock.calls[0]?.[1]).toMatchObject({ category: 'data', errorType: 'custom' });
  });

  it('is not broken by an onError hook that throws or rejects', async () => {
    const report = vi.spyOn(diag, 'error').mockImplementation(() => {});
    await expect(
      safeExecute(() => Promise.reject(new Error('down')), 'd', {
        onError: () => {
          throw new Error('hook bug');
        },
      }),
    ).resolves.toBe('d');
    await expect(
      safeExecute(() => Promise.reject(new Error('down')), 'd', {
        onError: async () => {
          throw new Error('async hook bug');
        },
      }),
    ).resolves.toBe('d');
    await flush();
    expect(report).toHaveBeenCalledTimes(2);
    report.mockRestore();
  });

  it('does not call onError on success', async () => {
    const onError = vi.fn();
    await safeExecute(() => 1, 0, { onError });
    expect(onError).not.toHaveBeenCalled();
  });

  it('passes the caller signal to the function', async () => {
    const caller = new AbortController();
    caller.abort(new Error('gone'));
    await expect(
      safeExecute(
        ({ signal, attempt }) => (signal.aborted ? `aborted ${attempt}` : 'running'),
        '',
        {
          signal: caller.signal,
        },
      ),
    ).resolves.toBe('aborted 1');
  });

  describe('through a policy', () => {
    beforeEach(() => vi.useFakeTimers());
    afterEach(() => vi.useRealTimers());

    it('runs the function through it and defaults when the policy fails', async () => {
      const onError = vi.fn();
      const result = safeExecute(() => new Promise<string>(() => {}), 'default', {
        policy: timeout(100, { strategy: 'aggressive' }),
        onError,
      });
      await vi.advanceTimersByTimeAsync(100);
      await expect(result).resolves.toBe('default');
      expect(isTimeoutExceededError(onError.mock.calls[0]?.[0])).toBe(true);
      expect(onError.mock.calls[0]?.[1]).toMatchObject({ category: 'timeout' });
    });
  });

  it('types the result as the union of the value and the default', () => {
    expectTypeOf(safeExecute(() => 1, 'none')).toEqualTypeOf<Promise<number | string>>();
    expectTypeOf(
      safeExecute(
        async () => 1,
        () => 0,
      ),
    ).toEqualTypeOf<Promise<number>>();
    expectTypeOf(
      safeExecute(
        () => 'x',
        (_error: unknown) => null,
      ),
    ).toEqualTypeOf<Promise<string | null>>();
  });

  it('rejects bad arguments synchronously, naming them', () => {
    expect(() => safeExecute('x' as never, 1)).toThrow(/fn must be a function/);
    expect(() => safeExecute(() => 1, 1, { onError: 3 as never })).toThrow(
      /onError must be a function/,
    );
    expect(() => safeExecute(() => 1, 1, { policy: {} as never })).toThrow(
      /policy must be a policy/,
    );
  });
});
