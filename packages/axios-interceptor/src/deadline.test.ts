import axios, { type AxiosInstance, CanceledError } from 'axios';
import nock from 'nock';
import {
  AbortedError,
  isAbortedError,
  isTimeoutExceededError,
  RetryBudget,
  runWithDeadline,
  TimeoutExceededError,
} from 'otel-resilience';
import { points, useTestTelemetry } from 'otel-resilience/testing';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type AxiosResilience, type AxiosResilienceOptions, attachResilience } from './index.js';
import { eventsOf, spansNamed, until } from './testSupport.js';

const telemetry = useTestTelemetry();
const HOST = 'http://slow.test';
let seq = 0;

beforeAll(() => nock.disableNetConnect());
beforeEach(() =>
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] }),
);
afterEach(() => {
  nock.abortPendingRequests();
  nock.cleanAll();
  vi.useRealTimers();
});

function client(options: AxiosResilienceOptions = {}): {
  api: AxiosInstance;
  name: string;
  handle: AxiosResilience;
} {
  const name = `slow-${++seq}`;
  const api = axios.create({ baseURL: HOST });
  const handle = attachResilience(api, { retry: { random: () => 0 }, ...options, name });
  return { api, name, handle };
}

/** A reply that never comes in the test's (fake) time. */
const never = (path = '/slow') => nock(HOST).get(path).delay(60_000).reply(200, 'late');

const settle = (promise: Promise<unknown>) => {
  const state: { done: boolean; value?: unknown; error?: unknown } = { done: false };
  promise.then(
    (value) => Object.assign(state, { done: true, value }),
    (error: unknown) => Object.assign(state, { done: true, error }),
  );
  return state;
};

async function timeoutCounts(name: string) {
  return points(await telemetry.collect(), 'resilience.timeouts')
    .filter((p) => p.attributes['resilience.name'] === name)
    .map((p) => [
      p.attributes['resilience.timeout.source'],
      p.attributes['server.address'],
      p.value,
    ]);
}

async function decisions(name: string) {
  return points(await telemetry.collect(), 'resilience.retry.decisions')
    .filter((p) => p.attributes['resilience.name'] === name)
    .map((p) => [
      p.attributes['resilience.retry.decision'],
      p.attributes['resilience.retry.reason'],
    ]);
}

describe('per-attempt timeout', () => {
  it('aborts a slow attempt at attemptTimeoutMs and retries it with the linear backoff', async () => {
    never();
    never();
    nock(HOST).get('/slow').reply(200, 'ok');
    const { api, name } = client({ attemptTimeoutMs: 1_000 });
    const result = settle(api.get('/slow'));
    await vi.advanceTimersByTimeAsync(999);
    expect(result.done).toBe(false);
    await vi.advanceTimersByTimeAsync(1); // attempt 1 times out, then waits 50 ms
    await vi.advanceTimersByTimeAsync(50 + 1_000); // attempt 2 times out, then waits 100 ms
    await vi.advanceTimersByTimeAsync(100);
    await until(() => result.done);
    expect(result.value).toMatchObject({ data: 'ok' });
    const call = spansNamed(telemetry.spans(), `resilience ${name}`)[0];
    expect(
      eventsOf(call)
        .filter(([event]) => event === 'resilience.retry')
        .map(([, a]) => (a as Record<string, unknown>)['resilience.retry.delay_ms']),
    ).toEqual([50, 100]);
    expect(await timeoutCounts(name)).toEqual([['timeout', 'slow.test', 2]]);
  });

  it('the timeout error carries no request details (URL, query, headers)', async () => {
    nock(HOST).get('/slow').query(true).delay(60_000).reply(200);
    const { api } = client({ attemptTimeoutMs: 500, retry: false });
    const result = settle(
      api.get('/slow', {
        params: { api_key: 'SECRET' },
        headers: { Authorization: 'Bearer TOKEN', Cookie: 'sid=COOKIE' },
      }),
    );
    await vi.advanceTimersByTimeAsync(500);
    await until(() => result.done);
    const error = result.error as TimeoutExceededError;
    expect(isTimeoutExceededError(error)).toBe(true);
    expect([error.source, error.timeoutMs, error.cause]).toEqual(['timeout', 500, undefined]);
    const everything = `${String(error)} ${error.stack} ${JSON.stringify(error)} ${JSON.stringify(Object.entries(error))}`;
    expect(everything).not.toMatch(/SECRET|TOKEN|COOKIE|slow\.test|\/slow/);
  });
});

describe('deadline from the caller', () => {
  it('an attempt gets only the remaining time of the inbound deadline', async () => {
    never();
    const { api, name } = client({ attemptTimeoutMs: 10_000 });
    const result = settle(runWithDeadline({ timeoutMs: 300 }, () => api.get('/slow')));
    await vi.advanceTimersByTimeAsync(299);
    expect(result.done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await until(() => result.done);
    const error = result.error as TimeoutExceededError;
    expect([error.source, error.timeoutMs]).toEqual(['deadline', 300]);
    // No attempt starts after the caller stopped waiting.
    expect(await decisions(name)).toEqual([['skipped', 'deadline']]);
    expect(await timeoutCounts(name)).toEqual([['deadline', 'slow.test', 1]]);
  });

  it('no attempt starts when the deadline has passed', async () => {
    const scope = nock(HOST).get('/slow').reply(200);
    const { api } = client();
    const error = await runWithDeadline({ timeoutMs: 0 }, () => api.get('/slow')).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TimeoutExceededError);
    expect(scope.isDone()).toBe(false);
  });

  it("no attempt starts when the caller's signal has aborted (client gone)", async () => {
    const scope = nock(HOST).get('/slow').reply(200);
    const { api } = client();
    const gone = new AbortController();
    gone.abort();
    const error = await runWithDeadline({ signal: gone.signal }, () => api.get('/slow')).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AbortedError);
    expect(scope.isDone()).toBe(false);
  });

  it("the caller's signal aborting mid-attempt cancels the socket, and nothing retries", async () => {
    never();
    const { api, name } = client();
    const gone = new AbortController();
    const result = settle(runWithDeadline({ signal: gone.signal }, () => api.get('/slow')));
    await until(() => nock.pendingMocks().length === 0);
    gone.abort();
    await until(() => result.done);
    expect(result.error).toBeInstanceOf(CanceledError);
    expect(await decisions(name)).toEqual([['skipped', 'aborted']]);
  });

  it('timeoutMs bounds the whole request, retries and waits included', async () => {
    nock(HOST).get('/slow').reply(503);
    never();
    const { api, name } = client({ timeoutMs: 800 });
    const result = settle(api.get('/slow'));
    await until(() => spansNamed(telemetry.spans(), `resilience ${name} attempt`).length === 1);
    await vi.advanceTimersByTimeAsync(800);
    await until(() => result.done);
    expect(result.error).toMatchObject({ source: 'deadline', timeoutMs: expect.any(Number) });
    expect((result.error as TimeoutExceededError).timeoutMs).toBeLessThanOrEqual(800);
    expect(await decisions(name)).toEqual([
      ['retry', 'retryable'],
      ['skipped', 'deadline'],
    ]);
  });

  it('timeoutMs only shortens an inbound deadline, never extends it', async () => {
    never();
    const { api } = client({ timeoutMs: 5_000 });
    const result = settle(runWithDeadline({ timeoutMs: 200 }, () => api.get('/slow')));
    await vi.advanceTimersByTimeAsync(200);
    await until(() => result.done);
    expect(result.error).toMatchObject({ source: 'deadline', timeoutMs: 200 });
  });

  it('a request can set its own total timeoutMs', async () => {
    never();
    const { api } = client({ timeoutMs: 5_000 });
    const result = settle(api.get('/slow', { resilience: { timeoutMs: 150 } }));
    await vi.advanceTimersByTimeAsync(150);
    await until(() => result.done);
    expect(result.error).toMatchObject({ source: 'deadline', timeoutMs: 150 });
  });

  it('a user signal and a cancel token stop the request and its retries', async () => {
    never('/a');
    never('/b');
    const { api, name } = client();
    const controller = new AbortController();
    const viaSignal = settle(api.get('/a', { signal: controller.signal }));
    const source = axios.CancelToken.source();
    const viaToken = settle(api.get('/b', { cancelToken: source.token }));
    await until(() => nock.pendingMocks().length === 0);
    controller.abort();
    source.cancel('stop');
    await until(() => viaSignal.done && viaToken.done);
    expect(axios.isCancel(viaSignal.error)).toBe(true);
    expect(axios.isCancel(viaToken.error) || isAbortedError(viaToken.error)).toBe(true);
    expect(await decisions(name)).toEqual([['skipped', 'aborted']]);
    const counts = points(await telemetry.collect(), 'resilience.retry.decisions').find(
      (p) => p.attributes['resilience.name'] === name,
    );
    expect(counts?.value).toBe(2);
  });
});

describe('retry budget', () => {
  it("uses the instance's own budget when the deadline scope has none", async () => {
    nock(HOST).get('/b').reply(503).get('/b').reply(200);
    const { api, handle } = client();
    const before = handle.budget!.balance;
    await api.get('/b');
    expect(handle.budget!.balance).toBe(before - 1);
  });

  it("prefers the deadline scope's budget (set by the inbound middleware)", async () => {
    nock(HOST).get('/b').reply(503).get('/b').reply(200);
    const { api, handle } = client();
    const inbound = new RetryBudget({ name: `inbound-${seq}` });
    const [own, scoped] = [handle.budget!.balance, inbound.balance];
    await runWithDeadline({ retryBudget: inbound }, () => api.get('/b'));
    expect([handle.budget!.balance, inbound.balance]).toEqual([own, scoped - 1]);
    inbound.dispose();
  });

  it('makes its own budget, and its tokens series, only once a request needs it', async () => {
    nock(HOST).get('/b').times(2).reply(200);
    const { api, name, handle } = client();
    const inbound = new RetryBudget({ name: `inbound-only-${seq}` });
    const budgetSeries = async () =>
      points(await telemetry.collect(), 'resilience.retry_budget.tokens')
        .map((p) => p.attributes['resilience.name'])
        .filter((series) => series === name);
    await runWithDeadline({ retryBudget: inbound }, () => api.get('/b'));
    expect(await budgetSeries()).toEqual([]);
    await api.get('/b');
    expect(await budgetSeries()).toEqual([name]);
    expect(handle.budget).toBeDefined();
    handle.detach();
    inbound.dispose();
  });

  it('an exhausted budget stops retries', async () => {
    nock(HOST).get('/b').reply(503);
    const budget = new RetryBudget({ name: `empty-${seq}`, minRetriesPerSecond: 0 });
    const { api, name, handle } = client({ budget });
    expect(handle.budget).toBeUndefined();
    await expect(api.get('/b')).rejects.toMatchObject({ response: { status: 503 } });
    expect(await decisions(name)).toEqual([['skipped', 'budget']]);
    budget.dispose();
  });

  it('budget: null retries without any budget, even inside a scope with one', async () => {
    nock(HOST).get('/b').reply(503).get('/b').reply(200);
    const empty = new RetryBudget({ name: `empty2-${seq}`, minRetriesPerSecond: 0 });
    const { api } = client({ budget: null });
    const response = await runWithDeadline({ retryBudget: empty }, () => api.get('/b'));
    expect(response.status).toBe(200);
    empty.dispose();
  });
});
