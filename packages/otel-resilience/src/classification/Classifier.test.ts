import { describe, expect, it } from 'vitest';
import { BrokenCircuitError } from '../errors/BrokenCircuitError.js';
import { BulkheadRejectedError } from '../errors/BulkheadRejectedError.js';
import { TimeoutExceededError } from '../errors/TimeoutExceededError.js';
import { Classifier, defaultClassifier } from './Classifier.js';

const withCode = (code: string, message = 'boom') => Object.assign(new Error(message), { code });
const httpError = (status: number, headers: Record<string, string> = {}) =>
  Object.assign(new Error(`Request failed with status code ${status}`), {
    response: { status, headers },
  });

describe('defaultClassifier', () => {
  it.each([
    ['ECONNRESET', 'transient', true],
    ['ECONNREFUSED', 'transient', true],
    ['EAI_AGAIN', 'transient', true],
    ['ETIMEDOUT', 'timeout', true],
    ['UND_ERR_HEADERS_TIMEOUT', 'timeout', true],
    ['EMFILE', 'system', true],
    ['EACCES', 'configuration', false],
  ] as const)('classifies Node code %s as %s', (code, category, retryable) => {
    expect(defaultClassifier.classify(withCode(code))).toEqual({
      category,
      retryable,
      errorType: code,
    });
  });

  it.each([
    [429, 'rate_limited', true],
    [408, 'timeout', true],
    [500, 'transient', true],
    [502, 'transient', true],
    [503, 'transient', true],
    [504, 'transient', true],
    [400, 'data', false],
    [404, 'data', false],
    [422, 'data', false],
    [401, 'configuration', false],
    [403, 'configuration', false],
  ] as const)('classifies HTTP %i as %s', (status, category, retryable) => {
    for (const shape of [
      httpError(status),
      Object.assign(new Error('x'), { status }),
      Object.assign(new Error('x'), { statusCode: status }),
    ]) {
      expect(defaultClassifier.classify(shape)).toEqual({
        category,
        retryable,
        errorType: String(status),
      });
    }
  });

  it('reads Retry-After in seconds and as an HTTP date', () => {
    expect(defaultClassifier.classify(httpError(429, { 'retry-after': '7' })).retryAfterMs).toBe(
      7_000,
    );
    const at = new Date(Date.now() + 30_000).toUTCString();
    const ms = defaultClassifier.classify(httpError(503, { 'Retry-After': at })).retryAfterMs;
    expect(ms).toBeGreaterThan(28_000);
    expect(ms).toBeLessThanOrEqual(30_000);
  });

  it('reads hints carried on the error itself (ms, Date, HTTP date)', () => {
    const e1 = Object.assign(withCode('ECONNRESET'), { retryAfterMs: 1_500 });
    expect(defaultClassifier.classify(e1).retryAfterMs).toBe(1_500);
    const e2 = Object.assign(withCode('ECONNRESET'), { retryAfter: 250 });
    expect(defaultClassifier.classify(e2).retryAfterMs).toBe(250);
  });

  it('classifies its own errors', () => {
    expect(defaultClassifier.classify(new TimeoutExceededError(10))).toMatchObject({
      category: 'timeout',
      errorType: 'timeout',
      retryable: true,
    });
    expect(defaultClassifier.classify(new BrokenCircuitError('db', 'open', 2_000))).toEqual({
      category: 'transient',
      retryable: true,
      errorType: 'circuit_open',
      retryAfterMs: 2_000,
    });
    expect(defaultClassifier.classify(new BrokenCircuitError('db', 'isolated'))).toMatchObject({
      retryable: false,
    });
    expect(defaultClassifier.classify(new BulkheadRejectedError('b', 1, 0))).toMatchObject({
      category: 'system',
      errorType: 'bulkhead_full',
    });
  });

  it('classifies DOMException-style abort and timeout errors', () => {
    expect(defaultClassifier.classify(AbortSignal.abort().reason).category).toBe('timeout');
    const timeoutError = new DOMException('The operation timed out', 'TimeoutError');
    expect(defaultClassifier.classify(timeoutError)).toMatchObject({
      category: 'timeout',
      errorType: 'TimeoutError',
    });
  });

  it('follows the cause chain when the outer error lost the code', () => {
    const original = withCode('ECONNREFUSED');
    const wrapped = new TypeError('fetch failed', { cause: original });
    expect(defaultClassifier.classify(wrapped)).toEqual({
      category: 'transient',
      retryable: true,
      errorType: 'ECONNREFUSED',
    });
  });

  it('survives cyclic causes and non-error values', () => {
    const a: Error & { cause?: unknown } = new Error('a');
    const b = new Error('b', { cause: a });
    a.cause = b;
    expect(defaultClassifier.classify(a).category).toBe('unknown');
    expect(defaultClassifier.classify('a string')).toEqual({
      category: 'unknown',
      retryable: true,
      errorType: '_OTHER',
    });
    expect(defaultClassifier.classify(undefined).errorType).toBe('_OTHER');
  });

  it('never uses the message as error.type and bounds odd names', () => {
    const error = new Error('password=hunter2 at https://x/y?token=abc');
    expect(defaultClassifier.classify(error).errorType).toBe('Error');
    const odd = Object.assign(new Error('x'), { name: 'has spaces and / slashes', code: 'a b' });
    expect(defaultClassifier.classify(odd).errorType).toBe('Error');
    const anonymous = Object.assign(Object.create(null), { name: 'x'.repeat(100) });
    expect(defaultClassifier.classify(anonymous).errorType).toBe('_OTHER');
  });
});

describe('Classifier rules', () => {
  it('consults added rules before the built-ins, the latest first, and removes them on dispose', () => {
    const classifier = new Classifier();
    const error = withCode('ECONNRESET');
    const first = classifier.addRule(() => ({ category: 'system' }));
    const second = classifier.addRule((e) =>
      (e as { code?: string }).code === 'ECONNRESET'
        ? { category: 'data', errorType: 'custom' }
        : undefined,
    );
    expect(classifier.classify(error)).toEqual({
      category: 'data',
      retryable: false,
      errorType: 'custom',
    });
    second.dispose();
    expect(classifier.classify(error).category).toBe('system');
    first.dispose();
    expect(classifier.classify(error).category).toBe('transient');
  });

  it('lets a rule decide retryability and overrides the matrix per category', () => {
    const classifier = new Classifier({
      rules: [() => ({ category: 'transient', retryable: false })],
      retryable: { unknown: false },
    });
    expect(classifier.classify(new Error('x')).retryable).toBe(false);
    expect(new Classifier({ retryable: { unknown: false } }).classify(new Error('x'))).toEqual({
      category: 'unknown',
      retryable: false,
      errorType: 'Error',
    });
  });

  it('treats a throwing rule as no match', () => {
    const classifier = new Classifier({
      rules: [
        () => {
          throw new Error('bad rule');
        },
      ],
    });
    expect(classifier.classify(withCode('ECONNRESET')).category).toBe('transient');
  });

  it('can run without the built-in rules', () => {
    expect(new Classifier({ builtinRules: false }).classify(withCode('ECONNRESET')).category).toBe(
      'unknown',
    );
  });

  it('rejects a rule that is not a function', () => {
    expect(() => new Classifier().addRule(42 as never)).toThrow(/rule must be a function/);
  });

  it('hands what its own rules do not match to a fallback classifier', () => {
    const shared = new Classifier({
      rules: [(e) => (e === 'app' ? { category: 'data' } : undefined)],
    });
    const adapter = new Classifier({
      rules: [(e) => (e === 'own' ? { category: 'rate_limited', errorType: 'own' } : undefined)],
      builtinRules: false,
      fallback: shared,
    });
    expect(adapter.classify('own')).toMatchObject({ category: 'rate_limited', errorType: 'own' });
    expect(adapter.classify('app')).toMatchObject({ category: 'data', retryable: false });
    // The fallback's built-ins apply too; the adapter's own were turned off.
    expect(adapter.classify(withCode('ECONNRESET')).category).toBe('transient');
    expect(() => new Classifier({ fallback: {} as never })).toThrow(
      /fallback must be a Classifier/,
    );
  });
});
