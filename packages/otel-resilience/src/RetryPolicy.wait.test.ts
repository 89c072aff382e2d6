import { AsyncLocalStorage } from 'node:async_hooks';
import { getEventListeners, setMaxListeners } from 'node:events';
import { context, trace } from '@opentelemetry/api';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { constantBackoff } from './backoff/Backoff.js';
import { currentDeadlineScope, runWithDeadline } from './DeadlineContext.js';
import { AbortedError } from './errors/AbortedError.js';
import { retry } from './RetryPolicy.js';
import { timeout } from './TimeoutPolicy.js';
import { useTestTelemetry } from './testing/otel.js';
import { wrap } from './wrap.js';

const withCode = (code: string) => Object.assign(new Error(`failed: ${code}`), { code });
const parentOf = (span: unknown) =>
  (span as { parentSpanContext?: { spanId: string } }).parentSpanContext?.spanId;

describe('fake timers', () => {
  const otel = useTestTelemetry();
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('keeps span context, deadline scope and user ALS across waits', async () => {
    const als = new AsyncLocalStorage<string>();
    const policy = retry({ name: 'ctx', maxAttempts: 3, backoff: constantBackoff(100) });
    const seen: unknown[] = [];
    const userParents: (string | undefined)[] = [];
    let n = 0;
    const p = als.run('mine', () =>
      runWithDeadline({ timeoutMs: 10_000 }, () =>
        policy.execute(() => {
          const inner = trace.getTracer('u').startSpan('user');
          userParents.push(parentOf(inner));
          inner.end();
          seen.push([als.getStore(), currentDeadlineScope() !== undefined]);
          n++;
          return n < 3 ? Promise.reject(withCode('ECONNRESET')) : Promise.resolve('ok');
        }),
      ),
    );
    await vi.advanceTimersByTimeAsync(500);
    await expect(p).resolves.toBe('ok');
    expect(seen).toEqual([
      ['mine', true],
      ['mine', true],
      ['mine', true],
    ]);
    const spans = otel.spans();
    const call = spans.find((s) => s.name === 'resilience ctx');
    const attempts = spans.filter((s) => s.name === 'resilience ctx attempt');
    expect(attempts).toHaveLength(3);
    expect(attempts.map(parentOf)).toEqual(Array(3).fill(call?.spanContext().spanId));
    expect(userParents).toEqual(attempts.map((s) => s.spanContext().spanId));
    expect(call?.attributes['resilience.attempts']).toBe(3);
  });
});

describe('fake timers without telemetry', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('gives up in the call context on abort, once', async () => {
    const als = new AsyncLocalStorage<string>();
    const base = vi.getTimerCount();
    const policy = retry({ backoff: constantBackoff(1000) });
    const giveUps: unknown[] = [];
    policy.onGiveUp((e) => giveUps.push([e.reason, e.attempts, als.getStore()]));
    const c = new AbortController();
    const p = als.run('x', () =>
      policy.execute(() => Promise.reject(withCode('ECONNRESET')), c.signal),
    );
    const settled = p.catch((e) => e);
    await vi.advanceTimersByTimeAsync(10);
    c.abort('why');
    expect(giveUps).toEqual([]);
    const e = await settled;
    expect(e).toBeInstanceOf(AbortedError);
    expect((e as Error).cause).toBe('why');
    expect(giveUps).toEqual([['aborted', 1, 'x']]);
    expect(vi.getTimerCount()).toBe(base);
    expect(getEventListeners(c.signal, 'abort')).toHaveLength(0);
  });

  it('starts the next attempt only after microtasks (sync advance)', async () => {
    const policy = retry({ backoff: constantBackoff(10) });
    let calls = 0;
    const p = policy.execute(() => {
      calls++;
      return calls < 2 ? Promise.reject(withCode('ECONNRESET')) : 'ok';
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toBe(1);
    vi.advanceTimersByTime(10);
    expect(calls).toBe(1);
    await Promise.resolve();
    await Promise.resolve();
    await expect(p).resolves.toBe('ok');
    expect(calls).toBe(2);
  });

  it('many calls on one signal: all abort, no listener left; some finish before', async () => {
    const base = vi.getTimerCount();
    const policy = retry({ maxAttempts: 5, backoff: constantBackoff(100) });
    const c = new AbortController();
    setMaxListeners(0, c.signal);
    const ps = Array.from({ length: 50 }, (_, i) => {
      let k = 0;
      return policy
        .execute(
          () => (++k < (i % 2 ? 2 : 10) ? Promise.reject(withCode('ECONNRESET')) : i),
          c.signal,
        )
        .then(
          (v) => ['ok', v],
          (e) => ['err', e instanceof AbortedError],
        );
    });
    await vi.advanceTimersByTimeAsync(150);
    expect(getEventListeners(c.signal, 'abort').length).toBeGreaterThan(0);
    c.abort();
    const r = await Promise.all(ps);
    expect(r.filter((x) => x[0] === 'ok')).toHaveLength(25);
    expect(r.filter((x) => x[0] === 'err' && x[1] === true)).toHaveLength(25);
    expect(getEventListeners(c.signal, 'abort')).toHaveLength(0);
    expect(vi.getTimerCount()).toBe(base);
  });

  it('results retried across waits resolve with last result; throwing backoff rejects', async () => {
    const policy = retry({
      maxAttempts: 3,
      backoff: constantBackoff(10),
      retryOnResult: (r) => r === 'bad',
    });
    const p = policy.execute(() => 'bad');
    await vi.advanceTimersByTimeAsync(100);
    await expect(p).resolves.toBe('bad');
    let n = 0;
    const boom = new Error('backoff bug');
    const bad = retry({
      maxAttempts: 4,
      backoff: {
        delayMs: () => {
          if (++n === 2) throw boom;
          return 10;
        },
      },
    });
    const q = bad.execute(() => Promise.reject(withCode('ECONNRESET')));
    const qa = expect(q).rejects.toBe(boom);
    await vi.advanceTimersByTimeAsync(100);
    await qa;
    const errLast = withCode('ECONNRESET');
    let m = 0;
    const r = retry({ maxAttempts: 3, backoff: constantBackoff(10) }).execute(() =>
      Promise.reject(++m === 3 ? errLast : withCode('ECONNRESET')),
    );
    const ra = expect(r).rejects.toBe(errLast);
    await vi.advanceTimersByTimeAsync(100);
    await ra;
  });

  it('timeout inside retry: per-attempt signals', async () => {
    const policy = wrap(retry({ maxAttempts: 3, backoff: constantBackoff(50) }), timeout(20));
    let n = 0;
    const p = policy.execute(
      ({ signal }) =>
        new Promise((res, rej) => {
          n++;
          if (n === 3) res('ok');
          signal.addEventListener('abort', () => rej(signal.reason));
        }),
    );
    await vi.advanceTimersByTimeAsync(500);
    await expect(p).resolves.toBe('ok');
    expect(n).toBe(3);
  });

  it('retry inside timeout: the timeout aborts the wait', async () => {
    const base = vi.getTimerCount();
    const policy = wrap(timeout(100), retry({ backoff: constantBackoff(1000) }));
    const p = policy.execute(() => Promise.reject(withCode('ECONNRESET')));
    const pa = expect(p).rejects.toSatisfy((e) => (e as Error).name === 'TimeoutExceededError');
    await vi.advanceTimersByTimeAsync(100);
    await pa;
    expect(vi.getTimerCount()).toBe(base);
  });
});

describe('real timers', () => {
  it('works with real timers and context', async () => {
    const als = new AsyncLocalStorage<number>();
    const policy = retry({ maxAttempts: 3, backoff: constantBackoff(5) });
    const seen: (number | undefined)[] = [];
    let n = 0;
    const v = await als.run(7, () =>
      policy.execute(() => {
        seen.push(als.getStore());
        return ++n < 3 ? Promise.reject(withCode('ECONNRESET')) : 'ok';
      }),
    );
    expect(v).toBe('ok');
    expect(seen).toEqual([7, 7, 7]);
    void context;
  });
});
