/**
 * The category a failure falls in; it drives the retry decision (see the decision matrix).
 * - `transient`: network resets, refused connections, 500/502/503/504, dropped DB connections
 * - `rate_limited`: 429 and other "slow down" answers, usually with a Retry-After hint
 * - `timeout`: a deadline passed
 * - `configuration`: 401/403, bad credentials, missing permission — needs a human
 * - `data`: 400/404/422, constraint and syntax errors — the input must change
 * - `system`: resource exhaustion (out of memory, disk full, too many connections)
 * - `unknown`: nothing matched
 */
export type ErrorCategory =
  | 'transient'
  | 'rate_limited'
  | 'timeout'
  | 'configuration'
  | 'data'
  | 'system'
  | 'unknown';

/** Every category, in a stable order (telemetry, docs, validation). */
export const ERROR_CATEGORIES: readonly ErrorCategory[] = [
  'transient',
  'rate_limited',
  'timeout',
  'configuration',
  'data',
  'system',
  'unknown',
];

/** What {@link Classifier.classify} says about one failure. */
export interface Classification {
  /** The failure's category. */
  readonly category: ErrorCategory;
  /** Whether a retry may help (from the matched rule, else from the decision matrix). */
  readonly retryable: boolean;
  /**
   * Milliseconds the server asked us to wait before trying again (Retry-After), when known.
   * A retry never happens earlier than this.
   */
  readonly retryAfterMs?: number;
  /**
   * Low-cardinality `error.type` value for telemetry: an error code (`ECONNRESET`, `57P01`), an
   * HTTP status (`503`), a class name, or `_OTHER`. Never a message.
   */
  readonly errorType: string;
}

/**
 * A classification rule: returns what it knows about `error` (at least a category), or `undefined`
 * to let the next rule decide. Rules see each error of the `cause` chain, outermost first.
 */
export type ClassificationRule = (error: unknown) => ClassificationMatch | undefined;

/** What a rule contributes; missing fields are filled from the decision matrix and defaults. */
export interface ClassificationMatch {
  readonly category: ErrorCategory;
  readonly retryable?: boolean;
  readonly retryAfterMs?: number;
  readonly errorType?: string;
}
