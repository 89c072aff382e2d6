import {
  type ClassificationMatch,
  type ClassificationRule,
  isBrokenCircuitError,
  isBulkheadRejectedError,
  isTimeoutExceededError,
} from 'otel-resilience';

/** The fields of an `AxiosError` the rules read; checked by shape, not class, across copies. */
export interface AxiosErrorLike {
  readonly isAxiosError: true;
  readonly code?: string;
  readonly response?: { readonly status: number };
  config?: unknown;
}

/** Whether `error` is an `AxiosError` (of any installed copy of axios). */
export function isAxiosErrorLike(error: unknown): error is AxiosErrorLike {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { isAxiosError?: unknown }).isAxiosError === true
  );
}

/**
 * The engine's own errors, before the axios rules could see their causes: a timeout's
 * `TimeoutExceededError` carries the `CanceledError` its abort produced as `cause`, and a rule
 * matching that cause would win over the engine's built-in rule for the outer error.
 *
 * An open breaker fails the call at once (not retryable), where the engine's default would make
 * the retry wait for the breaker's next trial: an HTTP client whose dependency is down should
 * fail fast rather than hold its caller for up to a minute.
 */
export const engineErrorRule: ClassificationRule = (error) => {
  if (isTimeoutExceededError(error)) return { category: 'timeout', errorType: 'timeout' };
  if (isBrokenCircuitError(error)) {
    return { category: 'transient', errorType: 'circuit_open', retryable: false };
  }
  if (isBulkheadRejectedError(error)) return { category: 'system', errorType: 'bulkhead_full' };
  return undefined;
};

/** Axios codes for failures a new attempt cannot fix (bad options, unsupported features). */
const CONFIGURATION_CODES = new Set([
  'ERR_BAD_OPTION',
  'ERR_BAD_OPTION_VALUE',
  'ERR_DEPRECATED',
  'ERR_NOT_SUPPORT',
  'ERR_FR_TOO_MANY_REDIRECTS',
]);

/**
 * Axios's own error codes. HTTP statuses (`error.response.status`), Retry-After headers and Node
 * network codes (`ECONNRESET`, `ECONNREFUSED`, "socket hang up" = `ECONNRESET`) are left to the
 * engine's built-in rules, which read them from the same error.
 *
 * - `ECONNABORTED` / `ETIMEDOUT`: Axios's `timeout` option fired (`ECONNABORTED` unless
 *   `transitional.clarifyTimeoutError`), so `timeout`, not the built-ins' `transient` for a
 *   Node `ECONNABORTED`: a timeout retries with the linear backoff.
 * - `ERR_CANCELED`: a signal or cancel token stopped the request: `timeout`, like the engine's
 *   rule for `AbortError`. A caller's own abort never retries (the retry sees its signal).
 * - bad options, unsupported features, redirect loops: `configuration`, never retried.
 * - `ERR_BAD_RESPONSE` / `ERR_BAD_REQUEST` with no response (content too long, undecodable
 *   body): `data`, never retried — the same request would fail the same way.
 */
export const axiosErrorRule: ClassificationRule = (error): ClassificationMatch | undefined => {
  if (!isAxiosErrorLike(error)) return undefined;
  const code = error.code;
  if (code === 'ECONNABORTED' || code === 'ETIMEDOUT' || code === 'ERR_CANCELED') {
    return { category: 'timeout', errorType: code };
  }
  if (code !== undefined && CONFIGURATION_CODES.has(code)) {
    return { category: 'configuration', errorType: code };
  }
  if ((code === 'ERR_BAD_RESPONSE' || code === 'ERR_BAD_REQUEST') && error.response === undefined) {
    return { category: 'data', errorType: code };
  }
  return undefined;
};

/** The adapter's rules, in the order they are tried. */
export const AXIOS_RULES: readonly ClassificationRule[] = [engineErrorRule, axiosErrorRule];
