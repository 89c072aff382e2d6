import type {} from 'axios';

/**
 * Per-request overrides, set as `resilience` on an Axios request config:
 * `client.get(url, { resilience: { routeTemplate: '/users/{id}', retry: { maxAttempts: 5 } } })`.
 * `resilience: false` sends the request without any of this package's policies.
 */
export interface ResilienceRequestConfig {
  /**
   * `false`: one attempt only. `{ maxAttempts }`: total attempts for this request (integer ≥ 1,
   * the first included), replacing the instance's `retry.maxAttempts` and any per-category
   * `maxAttempts` of `retry.strategies`. Default: the instance's retry options.
   */
  readonly retry?: false | { readonly maxAttempts: number };
  /**
   * `true`: retry this request whatever its method (you know a repeat is harmless); `false`: treat
   * it as non-idempotent even for GET. Default: decided from the method and the idempotency-key
   * header.
   */
  readonly idempotent?: boolean;
  /**
   * Circuit breaker to use instead of the host's: requests with the same key share one breaker
   * (several hosts of one service), and different keys split one host (endpoint groups). A
   * non-empty string of at most 128 characters; it becomes the breaker's `resilience.name`, so keep
   * it low-cardinality. Default: the URL's `host[:port]`.
   */
  readonly breakerKey?: string;
  /**
   * The route template of the URL (`/users/{id}`), reported as `url.template` on the attempt spans.
   * Without it no path is reported at all. At most 256 characters, no `?` or `#`.
   */
  readonly routeTemplate?: string;
  /**
   * Milliseconds this request may take in total, every attempt and wait included (number > 0 or
   * Infinity). It can only shorten an enclosing deadline. Default: the instance's `timeoutMs`.
   */
  readonly timeoutMs?: number;
}

declare module 'axios' {
  interface AxiosRequestConfig {
    /** Per-request resilience overrides (otel-resilience-axios); `false` bypasses every policy. */
    resilience?: ResilienceRequestConfig | false;
  }
}

const show = (value: unknown): string =>
  typeof value === 'string' ? JSON.stringify(value) : String(value);

const KEYS: ReadonlySet<string> = new Set([
  'retry',
  'idempotent',
  'breakerKey',
  'routeTemplate',
  'timeoutMs',
]);

/**
 * Checks a request's `resilience` value; throws a `TypeError` naming the field (the request then
 * rejects with it, before anything is sent).
 */
export function checkRequestConfig(value: unknown): ResilienceRequestConfig {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`resilience must be an object or false, got ${show(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (!KEYS.has(key)) throw new TypeError(`resilience.${key} is not a known option`);
  }
  const config = value as Record<string, unknown>;
  const { retry, idempotent, breakerKey, routeTemplate, timeoutMs } = config;
  if (retry !== undefined && retry !== false) {
    const maxAttempts = (retry as { maxAttempts?: unknown } | null)?.maxAttempts;
    if (typeof maxAttempts !== 'number' || !Number.isInteger(maxAttempts) || maxAttempts < 1) {
      throw new TypeError(
        `resilience.retry.maxAttempts must be an integer >= 1, got ${show(maxAttempts)}`,
      );
    }
  }
  if (idempotent !== undefined && typeof idempotent !== 'boolean') {
    throw new TypeError(`resilience.idempotent must be a boolean, got ${show(idempotent)}`);
  }
  if (
    breakerKey !== undefined &&
    (typeof breakerKey !== 'string' || breakerKey.length === 0 || breakerKey.length > 128)
  ) {
    throw new TypeError(
      `resilience.breakerKey must be a non-empty string of at most 128 characters, got ${show(breakerKey)}`,
    );
  }
  if (
    routeTemplate !== undefined &&
    (typeof routeTemplate !== 'string' ||
      routeTemplate.length === 0 ||
      routeTemplate.length > 256 ||
      /[?#]/.test(routeTemplate))
  ) {
    // The value is not echoed: a concrete URL passed by mistake may carry credentials.
    throw new TypeError(
      'resilience.routeTemplate must be a non-empty template of at most 256 characters without "?" or "#"',
    );
  }
  if (
    timeoutMs !== undefined &&
    (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs) || timeoutMs <= 0)
  ) {
    throw new TypeError(
      `resilience.timeoutMs must be a number > 0 (or Infinity), got ${show(timeoutMs)}`,
    );
  }
  return config as ResilienceRequestConfig;
}
