import axios from 'axios';
import nock from 'nock';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { attachResilience } from './index.js';

beforeAll(() => nock.disableNetConnect());
afterEach(() => nock.cleanAll());

let seq = 0;
const attach = (options: unknown) =>
  attachResilience(axios.create(), { name: `opt-${++seq}`, ...(options as object) });

describe('options are checked when attaching', () => {
  it.each([
    [{ name: '' }, /^name must be a non-empty string/],
    [{ name: 'x'.repeat(129) }, /^name must be/],
    [{ retry: 3 }, /^retry must be an object or false/],
    [{ retry: { maxAttempts: 0 } }, /^retry\.maxAttempts must be an integer >= 1/],
    [{ retry: { maxRetryAfterMs: -1 } }, /^retry\.maxRetryAfterMs must be/],
    [{ retry: { retryOn: 'yes' } }, /^retry\.retryOn must be a function/],
    [{ retry: { name: 'x' } }, /^retry\.name is set by the adapter/],
    [{ retry: { budget: null } }, /^retry\.budget is set by the adapter/],
    [{ budget: {} }, /^budget must be a RetryBudget or null/],
    [{ circuitBreaker: 'on' }, /^circuitBreaker must be an object or false/],
    [{ circuitBreaker: { halfOpenAfterMs: -5 } }, /^circuitBreaker\.halfOpenAfterMs must be/],
    [{ circuitBreaker: { successThreshold: 0 } }, /^circuitBreaker\.successThreshold must be/],
    [{ circuitBreaker: { stateStore: {} } }, /^circuitBreaker\.stateStore is set by the adapter/],
    [{ attemptTimeoutMs: 0 }, /^attemptTimeoutMs must be a number > 0/],
    [{ attemptTimeoutMs: Number.NaN }, /^attemptTimeoutMs must be a number > 0/],
    [{ timeoutMs: -1 }, /^timeoutMs must be a number > 0/],
    [{ idempotentMethods: 'GET' }, /^idempotentMethods must be an array/],
    [{ idempotentMethods: [''] }, /^idempotentMethods must be an array/],
    [{ idempotencyKeyHeader: 'bad header' }, /^idempotencyKeyHeader must be a header name/],
    [{ maxHosts: 0 }, /^maxHosts must be an integer >= 1/],
    [{ maxHosts: 1.5 }, /^maxHosts must be an integer >= 1/],
    [{ classifier: {} }, /^classifier must be a Classifier/],
    [{ retries: 3 }, /^retries is not a known option/],
  ])('%o throws a TypeError naming the option', (options, message) => {
    expect(() => attach(options)).toThrow(TypeError);
    expect(() => attach(options)).toThrow(message);
  });

  it('accepts Infinity for the timeouts', () => {
    expect(() =>
      attach({ attemptTimeoutMs: Infinity, timeoutMs: Infinity }).detach(),
    ).not.toThrow();
  });

  it('refuses what is not an Axios instance', () => {
    expect(() => attachResilience({} as never)).toThrow(/^instance must be an Axios instance/);
    expect(() => attachResilience(null as never)).toThrow(TypeError);
  });
});

describe('per-request options are checked before anything is sent', () => {
  it.each([
    [{ retry: { maxAttempts: 0 } }, /^resilience\.retry\.maxAttempts must be an integer >= 1/],
    [{ retry: true }, /^resilience\.retry\.maxAttempts must be/],
    [{ idempotent: 'yes' }, /^resilience\.idempotent must be a boolean/],
    [{ breakerKey: '' }, /^resilience\.breakerKey must be a non-empty string/],
    [{ routeTemplate: '/users/42?token=SECRET' }, /^resilience\.routeTemplate must be/],
    [{ timeoutMs: 0 }, /^resilience\.timeoutMs must be a number > 0/],
    [{ retries: 1 }, /^resilience\.retries is not a known option/],
    ['on', /^resilience must be an object or false/],
  ])('%o rejects the request with a TypeError naming the field', async (resilience, message) => {
    const scope = nock('http://api.test').get('/').reply(200);
    const api = axios.create();
    attachResilience(api, { name: `opt-${++seq}` });
    const error = await api
      .get('http://api.test/', { resilience: resilience as never })
      .catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('SECRET');
    expect(scope.isDone()).toBe(false);
  });
});
