import {
  ATTR_CIRCUIT_PREVIOUS_STATE,
  ATTR_CIRCUIT_STATE,
  ATTR_DB_CLIENT_CONNECTION_POOL_NAME,
  ATTR_DB_CLIENT_CONNECTION_STATE,
  ATTR_DB_COMMIT_OUTCOME,
  ATTR_DB_SYSTEM_NAME,
  ATTR_ERROR_CATEGORY,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_REJECTION_REASON,
  ATTR_RESILIENCE_NAME,
  ATTR_RESILIENCE_OUTCOME,
  ATTR_RETRY_DECISION,
  ATTR_RETRY_REASON,
  ATTR_TIMEOUT_SOURCE,
  ATTR_TIMEOUT_STRATEGY,
  ATTR_URL_SCHEME,
} from './attributes.js';

/** Instrument kinds used by the catalogue. */
export type InstrumentKind = 'histogram' | 'counter' | 'updowncounter' | 'gauge';

/** One instrument: the single source of its name, kind, unit, description and attributes. */
export interface MetricDefinition {
  /** OpenTelemetry instrument name (Prometheus: dots become underscores, counters get `_total`). */
  readonly name: string;
  readonly kind: InstrumentKind;
  /** UCUM unit (`s` for durations, `{call}`-style annotations for counts). */
  readonly unit: string;
  readonly description: string;
  /** Every attribute key the instrument may carry; all of them bounded. */
  readonly attributes: readonly string[];
  /**
   * Histograms only (and required for them): the explicit bucket boundaries, in the instrument's
   * unit, given to the SDK as advice. Views configured by the application still override them.
   */
  readonly buckets?: readonly number[];
}

/**
 * Bucket boundaries (seconds) for the duration histograms: the OpenTelemetry HTTP semantic
 * conventions' boundaries, extended at both ends because policies wrap both sub-millisecond cache
 * calls and minute-long retried jobs.
 */
export const DURATION_BUCKETS_SECONDS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30, 60,
];

/**
 * Bucket boundaries (seconds) of `http.server.request.duration`: the semantic conventions'.
 */
export const HTTP_DURATION_BUCKETS_SECONDS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
];

/**
 * Bucket boundaries (seconds) of `db.client.connection.wait_time`, 0.1 ms … 10 s: a healthy pool
 * hands out an idle connection in well under a millisecond, so the low buckets tell a healthy
 * pool from one that opens a connection per request (milliseconds) or is saturated (seconds).
 */
export const DB_CONNECTION_WAIT_BUCKETS_SECONDS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/**
 * The metric catalogue: every instrument this package (and, through it, every adapter) emits.
 * Dashboards, alert rules and the README's telemetry table are generated from, or checked against,
 * this object, so a rename breaks the build rather than a dashboard.
 */
export const METRICS = {
  callDuration: {
    name: 'resilience.call.duration',
    kind: 'histogram',
    unit: 's',
    description:
      'Duration of one logical call through a policy or pipeline, all attempts and waits included.',
    attributes: [
      ATTR_RESILIENCE_NAME,
      ATTR_RESILIENCE_OUTCOME,
      ATTR_ERROR_TYPE,
      ATTR_ERROR_CATEGORY,
    ],
    buckets: DURATION_BUCKETS_SECONDS,
  },
  attemptDuration: {
    name: 'resilience.attempt.duration',
    kind: 'histogram',
    unit: 's',
    description: 'Duration of each attempt inside a call (one per try of the wrapped function).',
    attributes: [
      ATTR_RESILIENCE_NAME,
      ATTR_RESILIENCE_OUTCOME,
      ATTR_ERROR_TYPE,
      ATTR_ERROR_CATEGORY,
    ],
    buckets: DURATION_BUCKETS_SECONDS,
  },
  retryDecisions: {
    name: 'resilience.retry.decisions',
    kind: 'counter',
    unit: '{decision}',
    description:
      'Decisions taken after a failed attempt: retry, give_up (attempts exhausted) or skipped (budget, deadline, non-retryable, retry-after too long, aborted).',
    attributes: [ATTR_RESILIENCE_NAME, ATTR_RETRY_DECISION, ATTR_RETRY_REASON, ATTR_ERROR_CATEGORY],
  },
  circuitState: {
    name: 'resilience.circuit_breaker.state',
    kind: 'gauge',
    unit: '{state}',
    description:
      'Circuit breakers of each name in each state: 1 for the state a uniquely named breaker is in, 0 for the others.',
    attributes: [ATTR_RESILIENCE_NAME, ATTR_CIRCUIT_STATE],
  },
  circuitTransitions: {
    name: 'resilience.circuit_breaker.transitions',
    kind: 'counter',
    unit: '{transition}',
    description: 'Circuit-breaker state changes, from previous_state to state.',
    attributes: [ATTR_RESILIENCE_NAME, ATTR_CIRCUIT_PREVIOUS_STATE, ATTR_CIRCUIT_STATE],
  },
  circuitRejections: {
    name: 'resilience.circuit_breaker.rejections',
    kind: 'counter',
    unit: '{call}',
    description:
      'Calls refused without being attempted because the breaker was open, half-open or isolated.',
    attributes: [ATTR_RESILIENCE_NAME, ATTR_CIRCUIT_STATE],
  },
  timeouts: {
    name: 'resilience.timeouts',
    kind: 'counter',
    unit: '{timeout}',
    description:
      "Deadlines hit by timeout policies (the policy's own limit or the caller's deadline).",
    attributes: [ATTR_RESILIENCE_NAME, ATTR_TIMEOUT_STRATEGY, ATTR_TIMEOUT_SOURCE],
  },
  bulkheadActive: {
    name: 'resilience.bulkhead.active',
    kind: 'updowncounter',
    unit: '{execution}',
    description: 'Executions currently running inside a bulkhead.',
    attributes: [ATTR_RESILIENCE_NAME],
  },
  bulkheadQueued: {
    name: 'resilience.bulkhead.queued',
    kind: 'updowncounter',
    unit: '{execution}',
    description: "Executions waiting in a bulkhead's queue.",
    attributes: [ATTR_RESILIENCE_NAME],
  },
  bulkheadRejections: {
    name: 'resilience.bulkhead.rejections',
    kind: 'counter',
    unit: '{call}',
    description: 'Calls shed because the bulkhead and its queue were full.',
    attributes: [ATTR_RESILIENCE_NAME],
  },
  retryBudgetTokens: {
    name: 'resilience.retry_budget.tokens',
    kind: 'gauge',
    unit: '{token}',
    description: 'Retries a retry budget would allow right now.',
    attributes: [ATTR_RESILIENCE_NAME],
  },
  fallbacks: {
    name: 'resilience.fallbacks',
    kind: 'counter',
    unit: '{call}',
    description: 'Calls answered by a fallback, by the outcome of the fallback itself.',
    attributes: [
      ATTR_RESILIENCE_NAME,
      ATTR_RESILIENCE_OUTCOME,
      ATTR_ERROR_TYPE,
      ATTR_ERROR_CATEGORY,
    ],
  },
  inboundRejections: {
    name: 'resilience.http.server.rejections',
    kind: 'counter',
    unit: '{request}',
    description:
      'Inbound requests the middleware answered itself instead of the handler: shed, circuit_open, timeout or deadline_exceeded.',
    attributes: [ATTR_RESILIENCE_NAME, ATTR_HTTP_ROUTE, ATTR_REJECTION_REASON],
  },
  invalidDeadlineHeaders: {
    name: 'resilience.http.server.invalid_deadline_headers',
    kind: 'counter',
    unit: '{request}',
    description: 'Inbound deadline headers that could not be parsed and were ignored.',
    attributes: [ATTR_RESILIENCE_NAME],
  },
  httpServerDuration: {
    name: 'http.server.request.duration',
    kind: 'histogram',
    unit: 's',
    description:
      'Duration of inbound HTTP requests (semantic conventions); emitted by the middleware only when its serverMetrics option is on, for apps without the http instrumentation.',
    attributes: [
      ATTR_HTTP_REQUEST_METHOD,
      ATTR_HTTP_ROUTE,
      ATTR_HTTP_RESPONSE_STATUS_CODE,
      ATTR_URL_SCHEME,
      ATTR_ERROR_TYPE,
    ],
    buckets: HTTP_DURATION_BUCKETS_SECONDS,
  },
  dbConnectionCount: {
    name: 'db.client.connection.count',
    kind: 'updowncounter',
    unit: '{connection}',
    description:
      'Connections open in a client pool (semantic conventions), by state: idle (free in the pool) or used (lent to a caller).',
    attributes: [
      ATTR_DB_CLIENT_CONNECTION_POOL_NAME,
      ATTR_DB_CLIENT_CONNECTION_STATE,
      ATTR_DB_SYSTEM_NAME,
    ],
  },
  dbConnectionMax: {
    name: 'db.client.connection.max',
    kind: 'updowncounter',
    unit: '{connection}',
    description: 'The most connections a client pool may open (semantic conventions).',
    attributes: [ATTR_DB_CLIENT_CONNECTION_POOL_NAME, ATTR_DB_SYSTEM_NAME],
  },
  dbConnectionPendingRequests: {
    name: 'db.client.connection.pending_requests',
    kind: 'updowncounter',
    unit: '{request}',
    description: 'Requests waiting for a connection from a client pool (semantic conventions).',
    attributes: [ATTR_DB_CLIENT_CONNECTION_POOL_NAME, ATTR_DB_SYSTEM_NAME],
  },
  dbConnectionTimeouts: {
    name: 'db.client.connection.timeouts',
    kind: 'counter',
    unit: '{timeout}',
    description:
      'Requests for a connection that timed out before the pool could lend one (semantic conventions).',
    attributes: [ATTR_DB_CLIENT_CONNECTION_POOL_NAME, ATTR_DB_SYSTEM_NAME],
  },
  dbConnectionWaitTime: {
    name: 'db.client.connection.wait_time',
    kind: 'histogram',
    unit: 's',
    description:
      'Time a request waited for a connection from a client pool, for requests that got one (semantic conventions).',
    attributes: [ATTR_DB_CLIENT_CONNECTION_POOL_NAME, ATTR_DB_SYSTEM_NAME],
    buckets: DB_CONNECTION_WAIT_BUCKETS_SECONDS,
  },
  dbPoolExhaustionWarnings: {
    name: 'resilience.db.pool.exhaustion_warnings',
    kind: 'counter',
    unit: '{warning}',
    description:
      'Times the share of a pool in use rose to or above its exhaustion threshold (default 80% of max); re-armed once a later acquire finds it below.',
    attributes: [ATTR_DB_CLIENT_CONNECTION_POOL_NAME, ATTR_DB_SYSTEM_NAME],
  },
  dbCommitVerifications: {
    name: 'resilience.db.commit_verifications',
    kind: 'counter',
    unit: '{transaction}',
    description:
      'Transactions whose COMMIT acknowledgement was lost and whose outcome was asked of the database, by its answer: committed, aborted or unknown.',
    attributes: [ATTR_RESILIENCE_NAME, ATTR_DB_SYSTEM_NAME, ATTR_DB_COMMIT_OUTCOME],
  },
} as const satisfies Record<string, MetricDefinition>;

/** Key of an instrument in {@link METRICS}. */
export type MetricKey = keyof typeof METRICS;

/** Keys of the instruments in {@link METRICS} whose kind is one of `Kind`. */
export type MetricKeyOfKind<Kind extends InstrumentKind> = {
  [K in MetricKey]: (typeof METRICS)[K]['kind'] extends Kind ? K : never;
}[MetricKey];

/** Keys of the histograms in {@link METRICS}. */
export type HistogramKey = MetricKeyOfKind<'histogram'>;

/** Keys of the counters, up-down counters and gauges in {@link METRICS}. */
export type ObservedKey = Exclude<MetricKey, HistogramKey>;

/** Keys of the counters in {@link METRICS}. */
export type CounterKey = MetricKeyOfKind<'counter'>;

/** Keys of the up-down counters and gauges in {@link METRICS}: values read, not added up. */
export type ReadingKey = MetricKeyOfKind<'updowncounter' | 'gauge'>;
