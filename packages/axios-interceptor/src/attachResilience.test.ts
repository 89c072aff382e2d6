import { Readable } from 'node:stream';
import axios, { type AxiosError, type AxiosInstance, type InternalAxiosRequestConfig } from 'axios';
import nock from 'nock';
import { points, useTestTelemetry } from 'otel-resilience/testing';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type AxiosResilienceOptions, attachResilience } from './index.js';
import { codeError, eventsOf, histogramCounts, spansNamed, until } from './testSupport.js';

const telemetry = useTestTelemetry();
const HOST = 'http://api.test';
let seq = 0;

beforeAll(() => nock.disableNetConnect());
afterEach(() => {
  nock.abortPendingRequests();
  nock.cleanAll();
  vi.useRealTimers();
});

/** A client with a fresh name (metric series are process-wide) and waits of 0 ms by default. */
function client(options: AxiosResilienceOptions = {}): { api: AxiosInstance; name: string } {
  const name = options.name ?? `api-${++seq}`;
  const api = axios.create({ baseURL: HOST });
  attachResilience(api, { retry: { random: () => 0 }, ...options, name });
  return { api, name };
}

const fail = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error as AxiosError,
  );

async function decisions(name: string) {
  return points(await telemetry.collect(), 'resilience.retry.decisions')
    .filter((p) => p.attributes['resilience.name'] === name)
    .map((p) => ({
      decision: p.attributes['resilience.retry.decision'],
      reason: p.attributes['resilience.retry.reason'],
      category: p.attributes['resilience.error.category'],
      value: p.value,
    }));
}

function attemptAttributes(name: string) {
  return spansNamed(telemetry.spans(), `resilience ${name} attempt`).map((s) => s.attributes);
}

describe('error matrix', () => {
  it.each([500, 502, 503, 504])('%i is transient: retried, then succeeds', async (status) => {
    const scope = nock(HOST).get('/items').times(2).reply(status).get('/items').reply(200, 'ok');
    const { api, name } = client();
    const response = await api.get('/items');
    expect(response.data).toBe('ok');
    expect(scope.isDone()).toBe(true);
    expect(await decisions(name)).toEqual([
      { decision: 'retry', reason: 'retryable', category: 'transient', value: 2 },
    ]);
    expect(attemptAttributes(name).map((a) => a['error.type'])).toEqual([
      String(status),
      String(status),
      undefined,
    ]);
  });

  it.each([
    [400, 'data'],
    [401, 'configuration'],
    [403, 'configuration'],
    [404, 'data'],
    [422, 'data'],
  ])('%i is %s: not retried, the AxiosError reaches the caller', async (status, category) => {
    nock(HOST).get('/items').reply(status, { problem: true });
    const { api, name } = client();
    const error = await fail(api.get('/items'));
    expect(axios.isAxiosError(error)).toBe(true);
    expect(error.response?.status).toBe(status);
    expect(error.response?.data).toEqual({ problem: true });
    expect(await decisions(name)).toEqual([
      { decision: 'skipped', reason: 'non_retryable', category, value: 1 },
    ]);
  });

  it.each([
    ['ECONNRESET', 'connection reset', 'transient'],
    ['ECONNRESET', 'socket hang up', 'transient'],
    ['ECONNREFUSED', 'connect ECONNREFUSED', 'transient'],
    ['ETIMEDOUT', 'connect ETIMEDOUT', 'timeout'],
    ['EAI_AGAIN', 'getaddrinfo EAI_AGAIN', 'transient'],
  ])('network error %s (%s) is %s and retried', async (code, message, category) => {
    nock(HOST)
      .get('/items')
      .replyWithError(codeError(code, message))
      .get('/items')
      .reply(200, 'ok');
    const { api, name } = client();
    expect((await api.get('/items')).data).toBe('ok');
    expect(await decisions(name)).toEqual([
      { decision: 'retry', reason: 'retryable', category, value: 1 },
    ]);
    expect(attemptAttributes(name)[0]?.['error.type']).toBe(code);
  });

  it("Axios's own timeout (ECONNABORTED) is a timeout and waits the linear backoff", async () => {
    nock(HOST)
      .get('/items')
      .replyWithError(codeError('ECONNABORTED', 'timeout of 5ms exceeded'))
      .get('/items')
      .replyWithError(codeError('ECONNABORTED', 'timeout of 5ms exceeded'))
      .get('/items')
      .reply(200, 'ok');
    const { api, name } = client();
    expect((await api.get('/items')).data).toBe('ok');
    // Linear n × 100 ms with equal jitter at random 0: 50 ms, then 100 ms. A transient failure
    // (exponential, full jitter) would wait 0 ms at random 0.
    const call = spansNamed(telemetry.spans(), `resilience ${name}`)[0];
    expect(
      eventsOf(call).map(([, a]) => (a as Record<string, unknown>)['resilience.retry.delay_ms']),
    ).toEqual([50, 100]);
    expect(await decisions(name)).toEqual([
      { decision: 'retry', reason: 'retryable', category: 'timeout', value: 2 },
    ]);
  });

  it('gives up with the last error when the attempts run out', async () => {
    nock(HOST).get('/items').times(3).reply(503);
    const { api, name } = client();
    expect((await fail(api.get('/items'))).response?.status).toBe(503);
    expect(await decisions(name)).toEqual([
      { decision: 'retry', reason: 'retryable', category: 'transient', value: 2 },
      { decision: 'give_up', reason: 'max_attempts', category: 'transient', value: 1 },
    ]);
  });
});

/**
 * Waits until `n` attempts have failed (their spans end just before the retry's wait is set),
 * without moving the fake clock.
 */
const attemptsEnded = (name: string, n: number) =>
  until(() => spansNamed(telemetry.spans(), `resilience ${name} attempt`).length === n);

describe('429 and Retry-After', () => {
  it('waits exactly the Retry-After seconds before the next attempt', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
    const hits: number[] = [];
    nock(HOST)
      .get('/items')
      .reply(() => {
        hits.push(Date.now());
        return [429, '', { 'Retry-After': '3' }];
      })
      .get('/items')
      .reply(() => {
        hits.push(Date.now());
        return [200, 'ok'];
      });
    const { api, name } = client();
    const response = api.get('/items');
    await attemptsEnded(name, 1);
    await vi.advanceTimersByTimeAsync(2_999);
    expect(hits).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    await until(() => hits.length === 2);
    expect((await response).data).toBe('ok');
    expect(hits[1]! - hits[0]!).toBe(3_000);
    expect(await decisions(name)).toEqual([
      { decision: 'retry', reason: 'retryable', category: 'rate_limited', value: 1 },
    ]);
  });

  it('reads Retry-After as an HTTP date too', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
    vi.setSystemTime(new Date('2026-01-01T00:00:00Z'));
    const scope = nock(HOST)
      .get('/items')
      .reply(429, '', { 'Retry-After': 'Thu, 01 Jan 2026 00:00:05 GMT' })
      .get('/items')
      .reply(200, 'ok');
    const { api, name } = client();
    const response = api.get('/items');
    await attemptsEnded(name, 1);
    await vi.advanceTimersByTimeAsync(4_999);
    expect(scope.isDone()).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await until(() => scope.isDone());
    expect((await response).data).toBe('ok');
  });

  it('without Retry-After waits the aggressive backoff (1 s × 3^n, equal jitter)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
    let hits = 0;
    const scope = nock(HOST)
      .get('/items')
      .times(2)
      .reply(() => [++hits && 429])
      .get('/items')
      .reply(200, 'ok');
    const { api, name } = client();
    const response = api.get('/items');
    await attemptsEnded(name, 1);
    await vi.advanceTimersByTimeAsync(499);
    expect(hits).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    await attemptsEnded(name, 2);
    await vi.advanceTimersByTimeAsync(1_499);
    expect(scope.isDone()).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await until(() => scope.isDone());
    expect((await response).data).toBe('ok');
    expect(scope.isDone()).toBe(true);
    const call = spansNamed(telemetry.spans(), `resilience ${name}`)[0];
    expect(
      eventsOf(call).map(([, a]) => (a as Record<string, unknown>)['resilience.retry.delay_ms']),
    ).toEqual([500, 1_500]);
  });

  it('gives up at once when Retry-After is longer than maxRetryAfterMs', async () => {
    nock(HOST).get('/items').reply(429, '', { 'Retry-After': '120' });
    const { api, name } = client({ retry: { random: () => 0, maxRetryAfterMs: 60_000 } });
    expect((await fail(api.get('/items'))).response?.status).toBe(429);
    expect(await decisions(name)).toEqual([
      { decision: 'skipped', reason: 'retry_after_too_long', category: 'rate_limited', value: 1 },
    ]);
  });

  it('gives up at once when Retry-After is longer than the remaining deadline', async () => {
    nock(HOST).get('/items').reply(429, '', { 'Retry-After': '2' });
    const { api, name } = client({ timeoutMs: 1_000 });
    expect((await fail(api.get('/items'))).response?.status).toBe(429);
    expect(await decisions(name)).toEqual([
      { decision: 'skipped', reason: 'deadline', category: 'rate_limited', value: 1 },
    ]);
  });
});

describe('idempotency', () => {
  it.each(['get', 'head', 'options', 'put', 'delete'] as const)('%s is retried', async (method) => {
    const scope = nock(HOST)
      .intercept('/items', method.toUpperCase())
      .reply(503)
      .intercept('/items', method.toUpperCase())
      .reply(200);
    const { api } = client();
    expect((await api.request({ url: '/items', method })).status).toBe(200);
    expect(scope.isDone()).toBe(true);
  });

  it.each(['post', 'patch'] as const)(
    '%s is not retried after a 503 or a reset',
    async (method) => {
      nock(HOST).intercept('/items', method.toUpperCase()).reply(503);
      nock(HOST)
        .intercept('/other', method.toUpperCase())
        .replyWithError(codeError('ECONNRESET', 'socket hang up'));
      const { api, name } = client();
      expect((await fail(api.request({ url: '/items', method, data: {} }))).response?.status).toBe(
        503,
      );
      expect((await fail(api.request({ url: '/other', method, data: {} }))).code).toBe(
        'ECONNRESET',
      );
      expect(await decisions(name)).toEqual([
        { decision: 'skipped', reason: 'non_retryable', category: 'transient', value: 2 },
      ]);
    },
  );

  it('POST is retried when the connection was refused: the request never left', async () => {
    const scope = nock(HOST)
      .post('/orders')
      .replyWithError(codeError('ECONNREFUSED', 'connect ECONNREFUSED'))
      .post('/orders')
      .reply(201);
    const { api } = client();
    expect((await api.post('/orders', { sku: 1 })).status).toBe(201);
    expect(scope.isDone()).toBe(true);
  });

  it('POST with an Idempotency-Key header is retried', async () => {
    const scope = nock(HOST).post('/orders').reply(503).post('/orders').reply(201);
    const { api } = client();
    const response = await api.post('/orders', {}, { headers: { 'idempotency-key': 'k-1' } });
    expect(response.status).toBe(201);
    expect(scope.isDone()).toBe(true);
  });

  it('the idempotency-key header name is configurable, and false disables it', async () => {
    nock(HOST).post('/a').reply(503).post('/a').reply(201).post('/b').reply(503);
    const { api } = client({ idempotencyKeyHeader: 'X-Request-Id' });
    expect((await api.post('/a', {}, { headers: { 'X-Request-Id': 'r1' } })).status).toBe(201);
    const off = client({ idempotencyKeyHeader: false }).api;
    const error = await fail(off.post('/b', {}, { headers: { 'Idempotency-Key': 'k' } }));
    expect(error.response?.status).toBe(503);
  });

  it('per request: idempotent true retries a POST, false stops a GET', async () => {
    nock(HOST).post('/a').reply(503).post('/a').reply(201).get('/b').reply(503);
    const { api } = client();
    expect((await api.post('/a', {}, { resilience: { idempotent: true } })).status).toBe(201);
    const error = await fail(api.get('/b', { resilience: { idempotent: false } }));
    expect(error.response?.status).toBe(503);
  });

  it('idempotentMethods replaces the default list', async () => {
    nock(HOST).put('/a').reply(503);
    const { api } = client({ idempotentMethods: ['get'] });
    expect((await fail(api.put('/a', {}))).response?.status).toBe(503);
  });

  it('a stream body is sent once: it cannot be replayed', async () => {
    nock(HOST).put('/upload').reply(503);
    const { api, name } = client();
    const error = await fail(api.put('/upload', Readable.from(['a', 'b'])));
    expect(error.response?.status).toBe(503);
    expect(await decisions(name)).toEqual([
      { decision: 'give_up', reason: 'max_attempts', category: 'transient', value: 1 },
    ]);
  });
});

describe('per-request overrides', () => {
  it('retry: false makes one attempt', async () => {
    nock(HOST).get('/a').reply(503);
    const { api, name } = client();
    expect((await fail(api.get('/a', { resilience: { retry: false } }))).response?.status).toBe(
      503,
    );
    expect(await decisions(name)).toEqual([
      { decision: 'give_up', reason: 'max_attempts', category: 'transient', value: 1 },
    ]);
  });

  it('retry: { maxAttempts } replaces the instance limit and per-category ones', async () => {
    const scope = nock(HOST).get('/a').times(4).reply(503).get('/a').reply(200);
    const { api } = client({
      retry: { random: () => 0, maxAttempts: 2, strategies: { transient: { maxAttempts: 2 } } },
    });
    expect((await api.get('/a', { resilience: { retry: { maxAttempts: 5 } } })).status).toBe(200);
    expect(scope.isDone()).toBe(true);
  });

  it('the instance option retry: false makes one attempt per request', async () => {
    nock(HOST).get('/a').reply(503);
    const { api } = client({ retry: false });
    expect((await fail(api.get('/a'))).response?.status).toBe(503);
  });

  it('resilience: false sends the request untouched: no retry, no span, no breaker', async () => {
    nock(HOST).get('/a').reply(503);
    const api = axios.create({ baseURL: HOST });
    const handle = attachResilience(api, { name: `api-${++seq}` });
    expect((await fail(api.get('/a', { resilience: false }))).response?.status).toBe(503);
    expect(telemetry.spans()).toEqual([]);
    expect(handle.breakers()).toEqual([]);
  });
});

describe('the Axios pipeline', () => {
  it('runs request and response interceptors and transforms once per request', async () => {
    nock(HOST).post('/a').times(2).reply(503).post('/a').reply(200, { n: 1 });
    const api = axios.create({ baseURL: HOST });
    const seen = { request: 0, response: 0, transformRequest: 0, transformResponse: 0 };
    api.interceptors.request.use((config) => {
      seen.request++;
      return config;
    });
    api.interceptors.response.use((response) => {
      seen.response++;
      return response;
    });
    attachResilience(api, { name: `api-${++seq}`, retry: { random: () => 0 } });
    const response = await api.post(
      '/a',
      { x: 1 },
      {
        headers: { 'Idempotency-Key': 'k' },
        transformRequest: [
          (data) => {
            seen.transformRequest++;
            return JSON.stringify(data);
          },
        ],
        transformResponse: [
          (data) => {
            seen.transformResponse++;
            return JSON.parse(data);
          },
        ],
      },
    );
    expect(response.data).toEqual({ n: 1 });
    expect(seen).toEqual({ request: 1, response: 1, transformRequest: 1, transformResponse: 1 });
  });

  it('sends the same body on every attempt', async () => {
    const bodies: unknown[] = [];
    nock(HOST)
      .put('/a')
      .times(3)
      .reply((_uri, body) => {
        bodies.push(body);
        return [bodies.length < 3 ? 503 : 200];
      });
    const { api } = client();
    await api.put('/a', { sku: 7 });
    expect(bodies).toEqual([{ sku: 7 }, { sku: 7 }, { sku: 7 }]);
  });

  it("hands an adapter function of the user's a real AbortSignal per attempt, aborted by the attempt timeout", async () => {
    const signals: unknown[] = [];
    const api = axios.create({
      baseURL: HOST,
      adapter: (config) => {
        signals.push(config.signal);
        const signal = config.signal as AbortSignal;
        return new Promise((_resolve, reject) => {
          signal.addEventListener('abort', () => reject(new Error('adapter aborted')));
        });
      },
    });
    const own = new AbortController();
    attachResilience(api, {
      name: `api-${++seq}`,
      attemptTimeoutMs: 20,
      retry: { maxAttempts: 2, random: () => 0 },
    });
    const error = await fail(api.get('/slow', { signal: own.signal }));
    expect(error.name).toBe('TimeoutExceededError');
    expect(signals).toHaveLength(2);
    expect(signals.every((s) => s instanceof AbortSignal && s.aborted)).toBe(true);
    expect(signals[0]).not.toBe(signals[1]);
    expect(own.signal.aborted).toBe(false);
  });

  it("lets Axios's own adapters follow each attempt without an AbortSignal, and puts the caller's signal back", async () => {
    const seen: unknown[] = [];
    nock(HOST).get('/a').reply(503).get('/a').reply(200, 'ok');
    const api = axios.create({ baseURL: HOST });
    api.interceptors.response.use((response) => {
      seen.push(response.config.signal);
      return response;
    });
    attachResilience(api, { name: `api-${++seq}`, retry: { random: () => 0 } });
    const own = new AbortController();
    const response = await api.get('/a', { signal: own.signal });
    expect(response.data).toBe('ok');
    expect(seen).toEqual([own.signal]);
  });

  it('a config sent again (error.config) is wrapped once, not twice', async () => {
    nock(HOST).get('/a').reply(404).get('/a').times(2).reply(503).get('/a').reply(200);
    const { api, name } = client();
    const error = await fail(api.get('/a'));
    expect(error.config?.adapter).toEqual(axios.defaults.adapter);
    const again = await api.request(error.config!);
    expect(again.status).toBe(200);
    expect(again.config.adapter).toEqual(axios.defaults.adapter);
    // 1 attempt, then 3: a double-wrapped adapter would nest two retries (up to 9 attempts).
    expect(attemptAttributes(name)).toHaveLength(4);
  });

  it('a config captured after the interceptor ran (adapter wrapped) is wrapped once again', async () => {
    nock(HOST).get('/a').reply(200).get('/a').times(2).reply(503).get('/a').reply(200);
    const api = axios.create({ baseURL: HOST });
    let captured: InternalAxiosRequestConfig | undefined;
    // Registered before attaching, so it runs after the adapter's interceptor.
    api.interceptors.request.use((config) => {
      captured ??= { ...config };
      return config;
    });
    const name = `api-${++seq}`;
    attachResilience(api, { name, retry: { random: () => 0 } });
    await api.get('/a');
    expect(typeof captured?.adapter).toBe('function');
    expect((await api.request(captured!)).status).toBe(200);
    expect(attemptAttributes(name)).toHaveLength(4);
  });

  it('reports server.address, the method, the status and resend counts on attempt spans', async () => {
    nock('http://api.test:8080')
      .get('/users/42')
      .query(true)
      .reply(503)
      .get('/users/42')
      .query(true)
      .reply(200);
    const { api, name } = client();
    await api.get('http://api.test:8080/users/42', {
      params: { token: 'SECRET' },
      resilience: { routeTemplate: '/users/{id}' },
    });
    expect(attemptAttributes(name)).toEqual([
      {
        'resilience.name': name,
        'server.address': 'api.test',
        'resilience.attempt': 1,
        'http.request.method': 'GET',
        'server.port': 8080,
        'url.template': '/users/{id}',
        'http.response.status_code': 503,
        'error.type': '503',
        'resilience.error.category': 'transient',
      },
      {
        'resilience.name': name,
        'server.address': 'api.test',
        'resilience.attempt': 2,
        'http.request.method': 'GET',
        'server.port': 8080,
        'url.template': '/users/{id}',
        'http.request.resend_count': 1,
        'http.response.status_code': 200,
      },
    ]);
    const call = spansNamed(telemetry.spans(), `resilience ${name}`)[0];
    expect(call?.attributes).toEqual({
      'resilience.name': name,
      'server.address': 'api.test',
      'resilience.outcome': 'success_after_retry',
      'resilience.attempts': 2,
    });
    expect(JSON.stringify(telemetry.spans().map((s) => [s.attributes, s.events]))).not.toMatch(
      /SECRET|\/users\/42/,
    );
  });

  it('records call and attempt durations by server.address, in seconds', async () => {
    nock(HOST).get('/a').reply(503).get('/a').reply(200);
    const { api, name } = client();
    await api.get('/a');
    const metrics = await telemetry.collect();
    const call = metrics.find((m) => m.descriptor.name === 'resilience.call.duration');
    expect(call?.descriptor.unit).toBe('s');
    expect(
      histogramCounts(metrics, 'resilience.call.duration').filter(
        (p) => p.attributes['resilience.name'] === name,
      ),
    ).toEqual([
      {
        attributes: {
          'server.address': 'api.test',
          'resilience.name': name,
          'resilience.outcome': 'success_after_retry',
        },
        count: 1,
      },
    ]);
    expect(
      histogramCounts(metrics, 'resilience.attempt.duration').filter(
        (p) => p.attributes['resilience.name'] === name,
      ),
    ).toEqual([
      {
        attributes: {
          'server.address': 'api.test',
          'resilience.name': name,
          'resilience.outcome': 'failure',
          'error.type': '503',
          'resilience.error.category': 'transient',
        },
        count: 1,
      },
      {
        attributes: {
          'server.address': 'api.test',
          'resilience.name': name,
          'resilience.outcome': 'success',
        },
        count: 1,
      },
    ]);
  });

  it('sends relative URLs it cannot place (no baseURL) without resilience', async () => {
    const plain = await fail(axios.create().get('/relative'));
    const api = axios.create();
    attachResilience(api, { name: `api-${++seq}` });
    const error = await fail(api.get('/relative'));
    expect([error.name, error.code]).toEqual([plain.name, plain.code]);
    expect(telemetry.spans()).toEqual([]);
  });
});
