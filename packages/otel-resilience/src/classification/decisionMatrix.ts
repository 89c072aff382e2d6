import { aggressiveBackoff } from '../backoff/AggressiveBackoff.js';
import type { Backoff } from '../backoff/Backoff.js';
import { exponentialBackoff } from '../backoff/ExponentialBackoff.js';
import { linearBackoff } from '../backoff/LinearBackoff.js';
import type { ErrorCategory } from './Classification.js';

/** How a retry policy treats failures of one {@link ErrorCategory}. Missing fields fall back. */
export interface CategoryStrategy {
  /**
   * Whether failures of this category are retried. When unset, the classification's `retryable`
   * decides (a classifier rule, else {@link DEFAULT_RETRYABLE}).
   */
  readonly retry?: boolean;
  /** Total attempts, the first included (integer ≥ 1 or Infinity). Default: the policy's. */
  readonly maxAttempts?: number;
  /** Waits between attempts. Default: the policy's `backoff`. */
  readonly backoff?: Backoff;
}

/** A strategy for every category. */
export type DecisionMatrix = Readonly<Record<ErrorCategory, CategoryStrategy>>;

/**
 * The default decision matrix (DESIGN.md, seeds 001 and 003):
 *
 * | category        | retry | max attempts  | backoff                                        |
 * |-----------------|-------|---------------|------------------------------------------------|
 * | `transient`     | yes   | policy's      | exponential 100 ms × 2^(n-1), full jitter      |
 * | `rate_limited`  | yes   | policy's      | aggressive 1 s × 3^(n-1), equal jitter         |
 * | `timeout`       | yes   | policy's      | linear n × 100 ms, equal jitter                |
 * | `system`        | yes   | 2 (one more)  | policy's                                       |
 * | `configuration` | no    | —             | —                                              |
 * | `data`          | no    | —             | —                                              |
 * | `unknown`       | yes   | policy's      | policy's                                       |
 *
 * Every backoff is capped at 30 s, and no retry happens before a Retry-After hint. The rate-limit
 * and timeout backoffs use equal jitter so that they keep at least half of their shape. The `retry`
 * flags mirror {@link DEFAULT_RETRYABLE}, which the classifier already applies: a retry policy
 * takes retryability from the classification (so classifier rules keep the last word) unless the
 * policy's own `strategies` set `retry`.
 *
 * A policy's `backoff` option replaces the backoffs of this table, and its `maxAttempts` is
 * lowered (never raised) by a category's `maxAttempts` here; a policy's `strategies` override both.
 */
export const DEFAULT_DECISION_MATRIX: DecisionMatrix = Object.freeze({
  transient: Object.freeze({
    retry: true,
    backoff: exponentialBackoff({ initialDelayMs: 100, maxDelayMs: 30_000, jitter: 'full' }),
  }),
  rate_limited: Object.freeze({
    retry: true,
    backoff: aggressiveBackoff({ initialDelayMs: 1_000, maxDelayMs: 30_000, jitter: 'equal' }),
  }),
  timeout: Object.freeze({
    retry: true,
    backoff: linearBackoff({ initialDelayMs: 100, maxDelayMs: 30_000, jitter: 'equal' }),
  }),
  system: Object.freeze({ retry: true, maxAttempts: 2 }),
  configuration: Object.freeze({ retry: false }),
  data: Object.freeze({ retry: false }),
  unknown: Object.freeze({ retry: true }),
});
