/**
 * Attribute keys of this package. Stable OpenTelemetry semantic-convention keys are used where one
 * exists (`error.type`); everything else lives under `resilience.`. Values are always bounded: a
 * name the user chose, or one of a fixed set listed here.
 */

/** The policy, pipeline, breaker, bulkhead or budget name the user chose. */
export const ATTR_RESILIENCE_NAME = 'resilience.name';
/** Outcome of a call or attempt: see {@link CallOutcome} and {@link AttemptOutcome}. */
export const ATTR_RESILIENCE_OUTCOME = 'resilience.outcome';
/** Stable semconv `error.type`: an error code, HTTP status, class name or `_OTHER`. */
export const ATTR_ERROR_TYPE = 'error.type';
/** The failure's {@link ErrorCategory}. */
export const ATTR_ERROR_CATEGORY = 'resilience.error.category';
/** A retry decision: `retry`, `give_up` or `skipped`. */
export const ATTR_RETRY_DECISION = 'resilience.retry.decision';
/** Why the decision was taken: see {@link RetryDecisionReason}. */
export const ATTR_RETRY_REASON = 'resilience.retry.reason';
/** A circuit-breaker state: `closed`, `open`, `half_open`, `isolated`. */
export const ATTR_CIRCUIT_STATE = 'resilience.circuit_breaker.state';
/** The state a circuit breaker left in a transition. */
export const ATTR_CIRCUIT_PREVIOUS_STATE = 'resilience.circuit_breaker.previous_state';
/** How a timeout treats the function: `cooperative` or `aggressive`. */
export const ATTR_TIMEOUT_STRATEGY = 'resilience.timeout.strategy';
/** What the deadline was: the policy's own `timeout` or the caller's `deadline`. */
export const ATTR_TIMEOUT_SOURCE = 'resilience.timeout.source';
/** The 1-based attempt number (span attribute only). */
export const ATTR_ATTEMPT = 'resilience.attempt';
/** Number of attempts a call made (span attribute only). */
export const ATTR_ATTEMPTS = 'resilience.attempts';
/** Milliseconds waited before the next attempt (span event attribute only). */
export const ATTR_RETRY_DELAY_MS = 'resilience.retry.delay_ms';

/** Stable semconv `http.route`: the matched route template, `_OTHER` when no route matched. */
export const ATTR_HTTP_ROUTE = 'http.route';
/** `http.route` of requests no route template matched (or refused before routing). */
export const UNMATCHED_ROUTE = '_OTHER';
/** Stable semconv `http.request.method` (`_OTHER` for methods outside the known set). */
export const ATTR_HTTP_REQUEST_METHOD = 'http.request.method';
/** The methods the HTTP semantic conventions enumerate; any other is reported as `_OTHER`. */
export const KNOWN_HTTP_METHODS: ReadonlySet<string> = new Set([
  'CONNECT',
  'DELETE',
  'GET',
  'HEAD',
  'OPTIONS',
  'PATCH',
  'POST',
  'PUT',
  'QUERY',
  'TRACE',
]);

/** The `http.request.method` value of `method` (any case): itself upper-cased if known, else `_OTHER`. */
export function httpMethodLabel(method: string | undefined): string {
  if (method !== undefined && KNOWN_HTTP_METHODS.has(method)) return method;
  const upper = (method ?? '').toUpperCase();
  return KNOWN_HTTP_METHODS.has(upper) ? upper : '_OTHER';
}

/** Stable semconv `http.response.status_code`. */
export const ATTR_HTTP_RESPONSE_STATUS_CODE = 'http.response.status_code';
/** Stable semconv `url.scheme`. */
export const ATTR_URL_SCHEME = 'url.scheme';
/** Why an inbound guard answered a request itself: see {@link InboundRejectionReason}. */
export const ATTR_REJECTION_REASON = 'resilience.rejection.reason';

/** Semconv `db.system.name`: the database product (`postgresql`, `mysql`, `mariadb`, `sqlite`, …). */
export const ATTR_DB_SYSTEM_NAME = 'db.system.name';
/** Semconv `db.client.connection.pool.name`: the pool's name, chosen by the user. */
export const ATTR_DB_CLIENT_CONNECTION_POOL_NAME = 'db.client.connection.pool.name';
/** Semconv `db.client.connection.state`: see {@link DbConnectionState}. */
export const ATTR_DB_CLIENT_CONNECTION_STATE = 'db.client.connection.state';
/** Semconv `db.operation.name`: the SQL keyword of a statement (`SELECT`, `COMMIT`, …), never the statement. */
export const ATTR_DB_OPERATION_NAME = 'db.operation.name';
/** Semconv `db.collection.name`: a table name, only when it is a literal in the query. */
export const ATTR_DB_COLLECTION_NAME = 'db.collection.name';
/** Semconv `db.response.status_code`: the database's error code (SQLSTATE, MySQL error number). */
export const ATTR_DB_RESPONSE_STATUS_CODE = 'db.response.status_code';
/** What the database said about a transaction whose COMMIT went unanswered: see {@link DbCommitOutcome}. */
export const ATTR_DB_COMMIT_OUTCOME = 'resilience.db.commit_outcome';

/** Outcome of a logical call. */
export type CallOutcome = 'success' | 'success_after_retry' | 'failure';
/** Outcome of one attempt. */
export type AttemptOutcome = 'success' | 'failure';
/** A retry decision. */
export type RetryDecision = 'retry' | 'give_up' | 'skipped';
/**
 * Why a retry decision was taken: `retryable` (a retry was scheduled), `max_attempts` (gave up),
 * and for skipped retries `non_retryable`, `budget`, `deadline`, `retry_after_too_long`,
 * `aborted`.
 */
export type RetryDecisionReason =
  | 'retryable'
  | 'max_attempts'
  | 'non_retryable'
  | 'budget'
  | 'deadline'
  | 'retry_after_too_long'
  | 'aborted';

/**
 * Why an inbound guard answered instead of the handler: `shed` (concurrency and queue full),
 * `circuit_open` (the route's breaker refused), `timeout` (the handler ran out of time),
 * `deadline_exceeded` (the caller's deadline header had already expired on arrival).
 */
export type InboundRejectionReason = 'shed' | 'circuit_open' | 'timeout' | 'deadline_exceeded';

/** A `db.client.connection.state`: `idle` (in the pool, free) or `used` (lent to a caller). */
export type DbConnectionState = 'idle' | 'used';

/**
 * The verified outcome of a transaction whose COMMIT acknowledgement was lost: `committed` and
 * `aborted` as the database reported, `unknown` when it could not be asked or did not know.
 */
export type DbCommitOutcome = 'committed' | 'aborted' | 'unknown';

/** Span event names. */
export const EVENT_RETRY = 'resilience.retry';
export const EVENT_RETRY_SKIPPED = 'resilience.retry.skipped';
export const EVENT_GIVE_UP = 'resilience.retry.give_up';
export const EVENT_CIRCUIT_TRANSITION = 'resilience.circuit_breaker.transition';
export const EVENT_CIRCUIT_REJECTION = 'resilience.circuit_breaker.rejection';
export const EVENT_TIMEOUT = 'resilience.timeout';
export const EVENT_FALLBACK = 'resilience.fallback';
export const EVENT_BULKHEAD_REJECTION = 'resilience.bulkhead.rejection';
export const EVENT_INBOUND_REJECTION = 'resilience.http.server.rejection';
