import { diag } from '@opentelemetry/api';
import { AxiosError, AxiosHeaders, CanceledError, type InternalAxiosRequestConfig } from 'axios';
import {
  BrokenCircuitError,
  Classifier,
  defaultClassifier,
  TimeoutExceededError,
} from 'otel-resilience';
import { captureDiag } from 'otel-resilience/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { AxiosClassifier } from './index.js';

const config = { headers: new AxiosHeaders() } as InternalAxiosRequestConfig;

function httpError(status: number, headers: Record<string, string> = {}): AxiosError {
  return new AxiosError(
    'failed',
    'ERR_BAD_RESPONSE',
    config,
    {},
    {
      status,
      statusText: '',
      headers: new AxiosHeaders(headers),
      config,
      data: '',
    },
  );
}

const pick = ({
  category,
  retryable,
  errorType,
  retryAfterMs,
}: ReturnType<Classifier['classify']>) => ({
  category,
  retryable,
  errorType,
  ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
});

afterEach(() => diag.disable());

describe('AxiosClassifier', () => {
  const classifier = new AxiosClassifier();

  it.each([
    ['ECONNABORTED', 'timeout', true],
    ['ETIMEDOUT', 'timeout', true],
    ['ERR_FR_TOO_MANY_REDIRECTS', 'configuration', false],
    ['ERR_BAD_OPTION_VALUE', 'configuration', false],
    ['ERR_NOT_SUPPORT', 'configuration', false],
    ['ERR_BAD_RESPONSE', 'data', false],
    ['ERR_NETWORK', 'transient', true],
    ['ECONNRESET', 'transient', true],
    ['ECONNREFUSED', 'transient', true],
  ])('Axios code %s is %s (retryable: %s)', (code, category, retryable) => {
    expect(pick(classifier.classify(new AxiosError('x', code, config)))).toEqual({
      category,
      retryable,
      errorType: code,
    });
  });

  it("a Node ECONNABORTED that is not Axios's timeout stays transient (the engine's rule)", () => {
    const error = Object.assign(new Error('x'), { code: 'ECONNABORTED' });
    expect(classifier.classify(error).category).toBe('transient');
  });

  it('a cancellation (ERR_CANCELED) is a timeout', () => {
    expect(pick(classifier.classify(new CanceledError(undefined, config)))).toEqual({
      category: 'timeout',
      retryable: true,
      errorType: 'ERR_CANCELED',
    });
  });

  it.each([
    [500, 'transient', true],
    [502, 'transient', true],
    [503, 'transient', true],
    [504, 'transient', true],
    [400, 'data', false],
    [401, 'configuration', false],
    [403, 'configuration', false],
    [404, 'data', false],
    [422, 'data', false],
  ])('status %i is %s', (status, category, retryable) => {
    expect(pick(classifier.classify(httpError(status)))).toEqual({
      category,
      retryable,
      errorType: String(status),
    });
  });

  it('429 is rate_limited with its Retry-After as the hint', () => {
    expect(pick(classifier.classify(httpError(429, { 'Retry-After': '7' })))).toEqual({
      category: 'rate_limited',
      retryable: true,
      errorType: '429',
      retryAfterMs: 7_000,
    });
  });

  it("the engine's timeout wins over the CanceledError its abort produced", () => {
    const timeout = new TimeoutExceededError(100, 'timeout');
    Object.defineProperty(timeout, 'cause', { value: new CanceledError(undefined, config) });
    expect(pick(classifier.classify(timeout))).toEqual({
      category: 'timeout',
      retryable: true,
      errorType: 'timeout',
    });
  });

  it('an open breaker is not retried: the call fails fast', () => {
    expect(pick(classifier.classify(new BrokenCircuitError('b', 'open', 30_000)))).toEqual({
      category: 'transient',
      retryable: false,
      errorType: 'circuit_open',
      retryAfterMs: 30_000,
    });
  });

  it('finds an Axios error in the cause chain', () => {
    const wrapped = new Error('wrapped', { cause: new AxiosError('x', 'ETIMEDOUT', config) });
    expect(classifier.classify(wrapped).errorType).toBe('ETIMEDOUT');
  });

  it('leaves what it does not know to defaultClassifier, whose rules still apply', () => {
    const rule = defaultClassifier.addRule((e) =>
      e instanceof RangeError ? { category: 'system', errorType: 'range' } : undefined,
    );
    try {
      expect(pick(classifier.classify(new RangeError('x')))).toEqual({
        category: 'system',
        retryable: true,
        errorType: 'range',
      });
    } finally {
      rule.dispose();
    }
  });

  it('uses the fallback classifier it is given', () => {
    const fallback = new Classifier({ rules: [() => ({ category: 'data' })] });
    expect(new AxiosClassifier(fallback).classify(new Error('x')).category).toBe('data');
  });

  it('rules added to it win over the Axios rules; dispose removes them', () => {
    const own = new AxiosClassifier();
    const rule = own.addRule(() => ({ category: 'system', retryable: false }));
    const error = new AxiosError('x', 'ECONNABORTED', config);
    expect(own.classify(error)).toMatchObject({ category: 'system', retryable: false });
    rule.dispose();
    expect(own.classify(error).category).toBe('timeout');
    expect(() => own.addRule('no' as never)).toThrow(/^rule must be a function/);
  });

  it('a rule that throws counts as no match and is reported', () => {
    const logger = captureDiag();
    const own = new AxiosClassifier();
    own.addRule(() => {
      throw new Error('bad rule');
    });
    expect(own.classify(new AxiosError('x', 'ETIMEDOUT', config)).category).toBe('timeout');
    expect(logger.error).toHaveBeenCalledOnce();
  });
});
