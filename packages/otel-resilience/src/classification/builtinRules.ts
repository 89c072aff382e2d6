import { isBrokenCircuitError } from '../errors/BrokenCircuitError.js';
import { isBulkheadRejectedError } from '../errors/BulkheadRejectedError.js';
import { isTimeoutExceededError } from '../errors/TimeoutExceededError.js';
import type { ClassificationMatch, ClassificationRule, ErrorCategory } from './Classification.js';
import { errorCodeOf, httpStatusOf } from './errorType.js';
import { retryAfterHintOf } from './retryAfter.js';

const NETWORK_CODES: Readonly<Record<string, ErrorCategory>> = {
  ECONNRESET: 'transient',
  ECONNREFUSED: 'transient',
  ECONNABORTED: 'transient',
  EPIPE: 'transient',
  EHOSTUNREACH: 'transient',
  EHOSTDOWN: 'transient',
  ENETUNREACH: 'transient',
  ENETDOWN: 'transient',
  ENETRESET: 'transient',
  EAI_AGAIN: 'transient',
  ENOTFOUND: 'transient',
  EPROTO: 'transient',
  ERR_NETWORK: 'transient',
  UND_ERR_SOCKET: 'transient',
  UND_ERR_CLOSED: 'transient',
  ETIMEDOUT: 'timeout',
  ESOCKETTIMEDOUT: 'timeout',
  UND_ERR_CONNECT_TIMEOUT: 'timeout',
  UND_ERR_HEADERS_TIMEOUT: 'timeout',
  UND_ERR_BODY_TIMEOUT: 'timeout',
  EMFILE: 'system',
  ENFILE: 'system',
  ENOMEM: 'system',
  ENOSPC: 'system',
  EACCES: 'configuration',
  EPERM: 'configuration',
  ERR_INVALID_URL: 'data',
};

/** Category of an HTTP status (seed 003's decision matrix). */
export function categoryOfHttpStatus(status: number): ErrorCategory | undefined {
  if (status === 429) return 'rate_limited';
  if (status === 408) return 'timeout';
  if (status === 401 || status === 403 || status === 407) return 'configuration';
  if (status === 507) return 'system';
  if (status === 501 || status === 505) return 'configuration';
  if (status >= 500) return 'transient';
  if (status >= 400) return 'data';
  return undefined;
}

/** This package's own errors: rejections and deadlines. */
const ownErrors: ClassificationRule = (error) => {
  if (isTimeoutExceededError(error)) return { category: 'timeout', errorType: 'timeout' };
  if (isBrokenCircuitError(error)) {
    // Retrying an open breaker makes sense only after it lets a trial through: the remaining open
    // time is the hint, and a retry policy gives up when that is longer than it may wait.
    return {
      category: 'transient',
      errorType: 'circuit_open',
      ...(error.retryAfterMs !== undefined
        ? { retryAfterMs: error.retryAfterMs }
        : { retryable: false }),
    };
  }
  if (isBulkheadRejectedError(error)) return { category: 'system', errorType: 'bulkhead_full' };
  return undefined;
};

/** Node, undici and DNS error codes. */
const networkCodes: ClassificationRule = (error) => {
  const code = errorCodeOf(error);
  const category = code === undefined ? undefined : NETWORK_CODES[code];
  return category === undefined ? undefined : { category };
};

/** `AbortSignal.timeout()` and AbortController aborts (DOMException names). */
const abortAndTimeoutNames: ClassificationRule = (error) => {
  const name =
    typeof error === 'object' && error !== null ? (error as { name?: unknown }).name : undefined;
  if (name === 'TimeoutError') return { category: 'timeout', errorType: 'TimeoutError' };
  if (name === 'AbortError') return { category: 'timeout', errorType: 'AbortError' };
  return undefined;
};

/** HTTP statuses on common error shapes, with their Retry-After hints. */
const httpStatuses: ClassificationRule = (error) => {
  const status = httpStatusOf(error);
  if (status === undefined) return undefined;
  const category = categoryOfHttpStatus(status);
  if (category === undefined) return undefined;
  const retryAfterMs = retryAfterHintOf(error);
  const match: ClassificationMatch = { category, errorType: String(status) };
  return retryAfterMs === undefined ? match : { ...match, retryAfterMs };
};

/** The built-in rules, most specific first. Consulted after every user and adapter rule. */
export const BUILTIN_RULES: readonly ClassificationRule[] = [
  ownErrors,
  networkCodes,
  httpStatuses,
  abortAndTimeoutNames,
];
