import axios, { type AxiosInstance } from 'axios';
import nock from 'nock';
import { consecutiveBreaker, isBrokenCircuitError } from 'otel-resilience';
import { points, useTestTelemetry } from 'otel-resilience/testing';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type AxiosResilience, type AxiosResilienceOptions, attachResilience } from './index.js';

const telemetry = useTestTelemetry();
let seq = 0;

beforeAll(() => nock.disableNetConnect());
afterEach(() => nock.cleanAll());

function client(options: AxiosResilienceOptions = {}): {
  api: AxiosInstance;
  name: string;
  handle: AxiosResilience;
} {
  const name = `brk-${++seq}`;
  const api = axios.create();
  const handle = attachResilience(api, { retry: { random: () => 0 }, ...options, name });
  return { api, name, handle };
}

const keys = (handle: AxiosResilience) => handle.breakers().map((b) => b.key);

async function stateSeries(name: string) {
  return points(await telemetry.collect(), 'resilience.circuit_breaker.state')
    .filter((p) => p.attributes['resilience.name'] === name && p.value !== 0)
    .map((p) => [p.attributes['server.address'], p.attributes['resilience.circuit_breaker.state']]);
}

describe('per-host breakers', () => {
  it('are created lazily, one per host[:port], with server.address on their series', async () => {
    nock('http://a.test').get('/').reply(200);
    nock('http://b.test:8080').get('/').reply(200);
    const { api, name, handle } = client();
    expect(handle.breakers()).toEqual([]);
    await api.get('http://a.test/');
    await api.get('http://b.test:8080/');
    expect(keys(handle)).toEqual(['a.test', 'b.test:8080']);
    expect(handle.breakers()[0]?.breaker.state).toBe('closed');
    expect(await stateSeries(name)).toEqual([
      ['a.test', 'closed'],
      ['b.test', 'closed'],
    ]);
  });

  it('keep at most maxHosts, evicting and disposing the least recently used', async () => {
    for (const host of ['a', 'b', 'c']) nock(`http://${host}.test`).get('/').times(2).reply(200);
    const { api, name, handle } = client({ maxHosts: 2 });
    await api.get('http://a.test/');
    await api.get('http://b.test/');
    await api.get('http://a.test/'); // a is now the most recent
    await api.get('http://c.test/');
    expect(keys(handle)).toEqual(['a.test', 'c.test']);
    // b's breaker left the state gauge; c, beyond maxHosts distinct hosts, is reported as _OTHER.
    expect(await stateSeries(name)).toEqual([
      ['a.test', 'closed'],
      ['_OTHER', 'closed'],
    ]);
  });

  it('an open breaker refuses at once, without a request and without waiting for a trial', async () => {
    const scope = nock('http://down.test').get('/').times(2).reply(503);
    const { api, name, handle } = client({
      retry: false,
      circuitBreaker: { breaker: consecutiveBreaker(2), halfOpenAfterMs: 60_000 },
    });
    await expect(api.get('http://down.test/')).rejects.toMatchObject({ response: { status: 503 } });
    await expect(api.get('http://down.test/')).rejects.toMatchObject({ response: { status: 503 } });
    expect(scope.isDone()).toBe(true);
    const again = client({
      circuitBreaker: { breaker: consecutiveBreaker(2) },
    });
    expect(again.handle.breakers()).toEqual([]);
    expect(handle.breakers()[0]?.breaker.state).toBe('open');
    const started = performance.now();
    const error = await api.get('http://down.test/').catch((e: unknown) => e);
    expect(isBrokenCircuitError(error)).toBe(true);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(await stateSeries(name)).toEqual([['down.test', 'open']]);
  });

  it('with retries on, an open breaker still fails fast (not retryable)', async () => {
    nock('http://down.test').get('/').times(2).reply(503);
    const { api, name } = client({
      retry: { random: () => 0, maxAttempts: 5 },
      circuitBreaker: { breaker: consecutiveBreaker(2) },
    });
    const error = await api.get('http://down.test/').catch((e: unknown) => e);
    expect(isBrokenCircuitError(error)).toBe(true);
    const decisions = points(await telemetry.collect(), 'resilience.retry.decisions')
      .filter((p) => p.attributes['resilience.name'] === name)
      .map((p) => [
        p.attributes['resilience.retry.decision'],
        p.attributes['resilience.retry.reason'],
        p.value,
      ]);
    // 503, retry, 503 (the breaker opens), retry, refused: not retried further.
    expect(decisions).toEqual([
      ['retry', 'retryable', 2],
      ['skipped', 'non_retryable', 1],
    ]);
  });

  // 4 attempts at 50% each: 1 call in 16 fails whatever the breaker. An open breaker fails them all.
  it.each([
    { label: 'the default breaker', breaker: undefined, state: 'closed', succeeded: 143 },
    {
      label: '"5 consecutive failures"',
      breaker: consecutiveBreaker(5),
      state: 'open',
      succeeded: 20,
    },
  ])('$label under a 50% random brownout ends $state', async ({ breaker, state, succeeded }) => {
    const random = mulberry32(7);
    nock('http://brownout.test')
      .get('/')
      .times(1_000)
      .reply(() => [random() < 0.5 ? 503 : 200]);
    const { api, handle } = client({
      budget: null,
      retry: { random: () => 0, maxAttempts: 4 },
      circuitBreaker: breaker === undefined ? {} : { breaker },
    });
    let ok = 0;
    for (let i = 0; i < 150; i++) {
      await api.get('http://brownout.test/').then(
        () => ok++,
        () => undefined,
      );
    }
    expect(handle.breakers()[0]?.breaker.state).toBe(state);
    expect(ok).toBe(succeeded);
  });

  it('the default breaker opens when at least 80% of 20+ attempts fail', async () => {
    nock('http://dead.test').get('/').times(100).reply(503);
    const { api, handle } = client({ retry: false });
    for (let i = 0; i < 19; i++) await api.get('http://dead.test/').catch(() => undefined);
    expect(handle.breakers()[0]?.breaker.state).toBe('closed');
    await api.get('http://dead.test/').catch(() => undefined);
    expect(handle.breakers()[0]?.breaker.state).toBe('open');
  });

  it('429 answers do not count as failures', async () => {
    nock('http://busy.test').get('/').times(5).reply(429);
    const { api, handle } = client({
      retry: false,
      circuitBreaker: { breaker: consecutiveBreaker(2) },
    });
    for (let i = 0; i < 5; i++) await api.get('http://busy.test/').catch(() => undefined);
    expect(handle.breakers()[0]?.breaker.state).toBe('closed');
  });

  it('a breakerKey shares one breaker across hosts, named after the key', async () => {
    nock('http://s1.test').get('/').reply(503);
    nock('http://s2.test').get('/').reply(503);
    const { api, handle } = client({
      retry: false,
      circuitBreaker: { breaker: consecutiveBreaker(2) },
    });
    const resilience = { breakerKey: 'search' };
    await api.get('http://s1.test/', { resilience }).catch(() => undefined);
    await api.get('http://s2.test/', { resilience }).catch(() => undefined);
    expect(keys(handle)).toEqual(['search']);
    expect(handle.breakers()[0]?.breaker.name).toBe('search');
    expect(handle.breakers()[0]?.breaker.state).toBe('open');
  });

  it('circuitBreaker: false runs without breakers', async () => {
    nock('http://a.test').get('/').times(30).reply(503);
    const { api, handle } = client({ circuitBreaker: false, retry: false });
    for (let i = 0; i < 30; i++) await api.get('http://a.test/').catch(() => undefined);
    expect(handle.breakers()).toEqual([]);
  });
});

describe('detach', () => {
  it('ejects the interceptor, disposes the breakers and allows a new attachment', async () => {
    nock('http://a.test').get('/').reply(200).get('/').reply(503);
    const { api, name, handle } = client();
    await api.get('http://a.test/');
    expect(() => attachResilience(api)).toThrow(/already has otel-resilience-axios attached/);
    handle.detach();
    expect(handle.breakers()).toEqual([]);
    expect(await stateSeries(name)).toEqual([]);
    // A 503 is no longer retried.
    await expect(api.get('http://a.test/')).rejects.toMatchObject({ response: { status: 503 } });
    expect(() => attachResilience(api, { name: `${name}-again` }).detach()).not.toThrow();
  });
});

/** A small seeded PRNG: the brownout is random, and the same in every run. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
