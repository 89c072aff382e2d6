import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TimeoutExceededError } from './errors/TimeoutExceededError.js';
import { retry } from './RetryPolicy.js';
import { timeout } from './TimeoutPolicy.js';
import { wrap } from './wrap.js';

describe('ExecuteContext.onAbort', () => {
  const Original = globalThis.AbortController;
  let created = 0;
  beforeEach(() => {
    vi.useFakeTimers();
    created = 0;
    globalThis.AbortController = class extends Original {
      constructor() {
        super();
        created++;
      }
    };
  });
  afterEach(() => {
    globalThis.AbortController = Original;
    vi.useRealTimers();
  });

  it('tells a listener about a timeout without creating the attempt signal', async () => {
    const reasons: unknown[] = [];
    const call = timeout(100, { name: 'on-abort' }).execute(
      (ctx) =>
        new Promise((_resolve, reject) => {
          ctx.onAbort((reason) => {
            reasons.push(reason);
            reject(new Error('stopped'));
          });
        }),
    );
    const settled = call.catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(100);
    expect(await settled).toBeInstanceOf(TimeoutExceededError);
    expect(reasons).toEqual([expect.any(TimeoutExceededError)]);
    expect(created).toBe(0);
  });

  it("passes on the caller's abort through a timeout, and calls a late listener at once", async () => {
    const caller = new Original();
    const reasons: unknown[] = [];
    let late: unknown;
    const call = timeout(10_000).execute(
      (ctx) =>
        new Promise((_resolve, reject) => {
          ctx.onAbort((reason) => {
            reasons.push(reason);
            ctx.onAbort((again) => {
              late = again;
            });
            reject(reason);
          });
        }),
      caller.signal,
    );
    const settled = call.catch((error: unknown) => error);
    caller.abort('caller gave up');
    expect(await settled).toBe('caller gave up');
    expect(reasons).toEqual(['caller gave up']);
    expect(late).toBe('caller gave up');
  });

  it('stops calling a listener once removed, and never calls one without any signal', async () => {
    const removed = vi.fn();
    const unsignalled = vi.fn();
    const call = wrap(retry({ maxAttempts: 1 }), timeout(50)).execute(
      (ctx) =>
        new Promise((_resolve, reject) => {
          ctx.onAbort(removed)();
          ctx.onAbort(() => reject(new Error('timed out')));
        }),
    );
    const settled = call.catch(() => undefined);
    await vi.advanceTimersByTimeAsync(50);
    await settled;
    expect(removed).not.toHaveBeenCalled();

    const plain = retry({ maxAttempts: 1 }).execute((ctx) => {
      const remove = ctx.onAbort(unsignalled);
      remove();
      return 'done';
    });
    expect(await plain).toBe('done');
    expect(unsignalled).not.toHaveBeenCalled();
  });

  it("follows the caller's signal directly when no timeout bounds the attempt", async () => {
    const caller = new Original();
    const listener = vi.fn();
    const call = retry({ maxAttempts: 1 }).execute(
      (ctx) =>
        new Promise((_resolve, reject) => {
          ctx.onAbort((reason) => {
            listener(reason);
            reject(new Error('aborted'));
          });
        }),
      caller.signal,
    );
    const settled = call.catch(() => undefined);
    caller.abort('bye');
    await settled;
    expect(listener).toHaveBeenCalledWith('bye');
  });
});
