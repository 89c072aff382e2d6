import {
  type Breaker,
  type CircuitBreakerOptions,
  type CircuitFailurePredicate,
  Classifier,
  defaultIsFailure,
  type RetryBudget,
  type RetryOptions,
  timeBasedBreaker,
} from 'otel-resilience';
import { DEFAULT_IDEMPOTENCY_KEY_HEADER, DEFAULT_IDEMPOTENT_METHODS } from './idempotency.js';

/** Retry options of {@link AxiosResilienceOptions.retry}: the engine's, minus what the adapter sets. */
export type AxiosRetryOptions = Omit<RetryOptions, 'name' | 'classifier' | 'attributes' | 'budget'>;

/**
 * Breaker options of {@link AxiosResilienceOptions.circuitBreaker}: the engine's, minus what the
 * adapter sets. `stateStore` and `initialState` are left out: stores share state by breaker name,
 * and every host's breaker has the instance's name.
 */
export type AxiosCircuitBreakerOptions = Omit<
  CircuitBreakerOptions,
  'name' | 'classifier' | 'attributes' | 'stateStore' | 'initialState'
>;

/** Options of {@link attachResilience}. Every field is optional. */
export interface AxiosResilienceOptions {
  /**
   * `resilience.name` of the pipeline, retry, breakers and timeouts of this instance (a
   * dependency or client name, ≤ 128 characters). Default `'axios'`.
   */
  readonly name?: string;
  /**
   * Engine retry options (`maxAttempts` 3, per-category backoffs, `maxRetryAfterMs` 60 000 ms,
   * `retryOn`, `strategies`, ...). `false`: one attempt per request. Default `{}`.
   */
  readonly retry?: AxiosRetryOptions | false;
  /**
   * Retry budget every retry withdraws from. Default: the deadline scope's `retryBudget` (set by
   * the inbound middleware) when there is one, else one `RetryBudget` of this instance (20% of
   * calls plus 10 retries/s). `null`: no budget at all.
   */
  readonly budget?: RetryBudget | null;
  /**
   * Options of the per-host circuit breakers. Default: `timeBasedBreaker` opening when at least
   * 80% of at least 20 attempts in 10 s failed, open 60 s, closed again after 3 successful trials;
   * 429 answers, 4xx input errors, caller aborts and caller deadlines are not failures. `false`:
   * no breakers.
   */
  readonly circuitBreaker?: AxiosCircuitBreakerOptions | false;
  /**
   * Milliseconds one attempt may take (number > 0 or Infinity); the caller's remaining deadline
   * shortens it. At the limit the attempt's socket is aborted. Default 10 000.
   */
  readonly attemptTimeoutMs?: number;
  /**
   * Milliseconds one request may take in total, every attempt and retry wait included (number > 0
   * or Infinity). Nested under any inbound deadline, which it can only shorten. Default: none
   * (only the inbound deadline applies).
   */
  readonly timeoutMs?: number;
  /**
   * Methods retried on any retryable failure (upper or lower case). Other methods are retried only
   * when the request never left (connection refused, DNS failure), when it carries the
   * idempotency-key header, or with `resilience.idempotent: true`. Default GET, HEAD, OPTIONS,
   * PUT, DELETE, TRACE.
   */
  readonly idempotentMethods?: readonly string[];
  /**
   * Header whose presence makes any method retryable (case-insensitive). `false`: none.
   * Default `'Idempotency-Key'`.
   */
  readonly idempotencyKeyHeader?: string | false;
  /**
   * Most breakers kept (integer ≥ 1): one per host or breaker key, least recently used evicted and
   * disposed. Also the most distinct `server.address` values and breaker keys reported in metrics
   * over the life of the instance: later ones are reported as `_OTHER`. Default 100.
   */
  readonly maxHosts?: number;
  /**
   * Classifier deciding what the adapter's own Axios rules do not match. Default
   * `defaultClassifier` (rules registered there still apply).
   */
  readonly classifier?: Classifier;
}

/** Options with every default applied and checked. @internal */
export interface ResolvedOptions {
  readonly name: string;
  readonly retry: AxiosRetryOptions | false;
  readonly budget: RetryBudget | null | undefined;
  readonly circuitBreaker: CircuitBreakerOptions | false;
  readonly attemptTimeoutMs: number;
  readonly timeoutMs: number | undefined;
  readonly idempotentMethods: ReadonlySet<string>;
  readonly idempotencyKeyHeader: string | false;
  readonly maxHosts: number;
  readonly classifier: Classifier | undefined;
}

/** Node's longest timer: an `Infinity` attempt timeout still lets the deadline bound the attempt. */
export const MAX_TIMER_MS = 2_147_483_647;

/**
 * The default breaker strategy. A failure rate, not consecutive failures: during a brownout where
 * half the answers are 503 (which the retries absorb) the rate stays far below 80%, while "5 in a
 * row" happens every few dozen calls and would turn the brownout into an outage for every caller.
 * With at least 20 attempts in the window, a 50% failure rate reaches 80% with a probability of
 * about 0.6% per window — and far less with more traffic.
 */
export const DEFAULT_BREAKER: Breaker = timeBasedBreaker({
  failureRateThreshold: 0.8,
  minimumThroughput: 20,
  windowMs: 10_000,
});

/**
 * The default `isFailure` of the breakers: the engine's (every error but `data` and
 * `configuration`), minus `rate_limited`. A 429 is a healthy server asking one client to slow
 * down — the retry honours its Retry-After — and opening the breaker on it would refuse every
 * caller of the host.
 */
export const httpIsFailure: CircuitFailurePredicate = (error, classification) =>
  classification.category !== 'rate_limited' && defaultIsFailure(error, classification);

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

const KEYS: ReadonlySet<string> = new Set([
  'name',
  'retry',
  'budget',
  'circuitBreaker',
  'attemptTimeoutMs',
  'timeoutMs',
  'idempotentMethods',
  'idempotencyKeyHeader',
  'maxHosts',
  'classifier',
]);

const show = (value: unknown): string =>
  typeof value === 'string' ? JSON.stringify(value) : String(value);

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function checkMs(option: string, value: unknown): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0) {
    throw new TypeError(`${option} must be a number > 0 (or Infinity), got ${show(value)}`);
  }
  return value;
}

/** Applies the defaults and checks every option; throws a `TypeError` naming the bad one. */
export function resolveOptions(options: AxiosResilienceOptions | undefined): ResolvedOptions {
  if (options === undefined) options = {};
  if (!isObject(options)) throw new TypeError(`options must be an object, got ${show(options)}`);
  for (const key of Object.keys(options)) {
    if (!KEYS.has(key)) throw new TypeError(`${key} is not a known option`);
  }
  const name = options.name ?? 'axios';
  if (typeof name !== 'string' || name.length === 0 || name.length > 128) {
    throw new TypeError(
      `name must be a non-empty string of at most 128 characters, got ${show(name)}`,
    );
  }
  const retry = options.retry ?? {};
  if (retry !== false && !isObject(retry)) {
    throw new TypeError(`retry must be an object or false, got ${show(retry)}`);
  }
  const budget = options.budget;
  if (
    budget !== undefined &&
    budget !== null &&
    (typeof budget !== 'object' || typeof (budget as RetryBudget).tryWithdraw !== 'function')
  ) {
    throw new TypeError(`budget must be a RetryBudget or null, got ${show(budget)}`);
  }
  const breaker = options.circuitBreaker ?? {};
  if (breaker !== false && !isObject(breaker)) {
    throw new TypeError(`circuitBreaker must be an object or false, got ${show(breaker)}`);
  }
  for (const key of ['name', 'classifier', 'attributes', 'stateStore', 'initialState']) {
    if (breaker !== false && key in breaker) {
      throw new TypeError(`circuitBreaker.${key} is set by the adapter and cannot be given`);
    }
  }
  for (const key of ['name', 'classifier', 'attributes', 'budget']) {
    if (retry !== false && key in retry) {
      throw new TypeError(`retry.${key} is set by the adapter and cannot be given`);
    }
  }
  const methods = options.idempotentMethods ?? DEFAULT_IDEMPOTENT_METHODS;
  if (!Array.isArray(methods) || methods.some((m) => typeof m !== 'string' || m.length === 0)) {
    throw new TypeError(`idempotentMethods must be an array of method names, got ${show(methods)}`);
  }
  const header = options.idempotencyKeyHeader ?? DEFAULT_IDEMPOTENCY_KEY_HEADER;
  if (header !== false && (typeof header !== 'string' || !/^[!#$%&'*+.^`|~\w-]+$/.test(header))) {
    throw new TypeError(`idempotencyKeyHeader must be a header name or false, got ${show(header)}`);
  }
  const maxHosts = options.maxHosts ?? 100;
  if (typeof maxHosts !== 'number' || !Number.isInteger(maxHosts) || maxHosts < 1) {
    throw new TypeError(`maxHosts must be an integer >= 1, got ${show(maxHosts)}`);
  }
  if (options.classifier !== undefined && !(options.classifier instanceof Classifier)) {
    throw new TypeError(`classifier must be a Classifier, got ${show(options.classifier)}`);
  }
  return {
    name,
    retry,
    budget: budget as RetryBudget | null | undefined,
    circuitBreaker:
      breaker === false
        ? false
        : { breaker: DEFAULT_BREAKER, isFailure: httpIsFailure, ...withoutUndefined(breaker) },
    attemptTimeoutMs: Math.min(
      checkMs('attemptTimeoutMs', options.attemptTimeoutMs ?? 10_000),
      MAX_TIMER_MS,
    ),
    timeoutMs:
      options.timeoutMs === undefined ? undefined : checkMs('timeoutMs', options.timeoutMs),
    idempotentMethods: new Set(methods.map((m) => m.toUpperCase())),
    idempotencyKeyHeader: header,
    maxHosts,
    classifier: options.classifier,
  };
}
