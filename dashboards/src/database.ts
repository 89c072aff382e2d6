import type { DashboardSpec } from './dashboard.js';
import { percent, statPanel, timeseriesPanel, warningCritical } from './panels.js';
import { eq, has, isVar, LABEL, maxBy, nre, orZero, type Promql, re, sumBy } from './promql.js';
import { breakerTimeline } from './shared.js';

/** The Knex plugin's pipelines: they carry db.system.name. */
const DB = [has(LABEL.dbSystem), isVar(LABEL.name, 'db')];
/** Its transaction pipelines are named `<name>.transaction`. */
const TRANSACTION_NAME = '.+\\.transaction';
const QUERIES = [...DB, nre(LABEL.name, TRANSACTION_NAME)];
const TRANSACTIONS = [...DB, re(LABEL.name, TRANSACTION_NAME)];
const POOL = [isVar(LABEL.pool, 'pool')];
const BY_POOL = [LABEL.pool];
const POOL_LEGEND = `{{${LABEL.pool}}}`;
const BY_OPERATION = [LABEL.name, LABEL.dbOperation];
const OPERATION_LEGEND = `{{${LABEL.name}}} {{${LABEL.dbOperation}}}`;

/** Used / max of each pool on each instance (pools of one name on one instance are summed). */
function poolUsage(q: Promql): string {
  const by = [...BY_POOL, 'instance'];
  return `${sumBy(by, q.select('dbConnectionCount', [...POOL, eq(LABEL.connectionState, 'used')]))} / ${sumBy(by, q.select('dbConnectionMax', POOL))}`;
}

/** Re-runs of whole transactions per second: attempts − calls of the transaction pipelines. */
function reruns(q: Promql, by: readonly string[]): string {
  return `clamp_min(${sumBy(by, q.rate('attemptDuration', TRANSACTIONS))} - ${sumBy(by, q.rate('callDuration', TRANSACTIONS))}, 0)`;
}

/** Knex plugin: queries, retries by error code, transaction re-runs, the pool and the breaker. */
export const database: DashboardSpec = {
  slug: 'database',
  title: 'Database',
  description:
    'Databases used through the otel-resilience Knex plugin: operations and their duration, failures retried by error code (SQLSTATE), whole transactions re-run, lost COMMITs resolved, the connection pool (used, idle, pending, wait time, timeouts, exhaustion) and the database breaker.',
  targets: { metric: 'callDuration', matchers: [has(LABEL.dbSystem)] },
  variables: [
    {
      name: 'db',
      label: 'Database pipeline',
      description:
        'resilience.name of the Knex plugin: <name> for single queries, <name>.transaction for transactions.',
      metric: 'callDuration',
      valuesOf: LABEL.name,
      matchers: [has(LABEL.dbSystem)],
    },
    {
      name: 'pool',
      label: 'Pool',
      description:
        "db.client.connection.pool.name (the plugin's poolName option, default its name).",
      metric: 'dbConnectionCount',
      valuesOf: LABEL.pool,
    },
  ],
  rows: (q, config) => {
    const thresholds = warningCritical(config.failureRate.warning, config.failureRate.critical);
    const operations = sumBy(BY_OPERATION, q.rate('callDuration', QUERIES));
    const dbCalls = sumBy([], q.increaseOverRange('callDuration', DB));
    return [
      {
        title: 'Summary',
        panels: [
          statPanel({
            title: 'Operations',
            description: 'Queries and transactions per second through the plugin.',
            targets: [{ expr: sumBy([], q.rate('callDuration', DB)) }],
            unit: 'ops',
            width: 4,
          }),
          statPanel({
            title: 'Failure rate',
            description: `Share of queries and transactions that failed after their retries over the time range; orange from ${percent(config.failureRate.warning)}, red from ${percent(config.failureRate.critical)}.`,
            targets: [
              {
                expr: `${orZero(sumBy([], q.increaseOverRange('callDuration', [...DB, eq(LABEL.outcome, 'failure')])), dbCalls)} / ${dbCalls}`,
                instant: true,
              },
            ],
            unit: 'percentunit',
            decimals: 1,
            thresholds,
            background: true,
            width: 4,
          }),
          statPanel({
            title: 'Transactions re-run',
            description:
              'Whole transaction callbacks run again over the time range (serialization failures, deadlocks, connections lost before COMMIT).',
            targets: [
              {
                expr: `round(clamp_min(${sumBy([], q.increaseOverRange('attemptDuration', TRANSACTIONS))} - ${sumBy([], q.increaseOverRange('callDuration', TRANSACTIONS))}, 0))`,
                instant: true,
              },
            ],
            decimals: 0,
            width: 4,
          }),
          statPanel({
            title: 'Busiest pool',
            description: `Highest share of a pool in use (used / max) on any instance; orange from ${percent(config.poolUsageWarning)} (the exhaustion threshold), red when full.`,
            targets: [{ expr: maxBy([], poolUsage(q)) }],
            unit: 'percentunit',
            decimals: 0,
            thresholds: warningCritical(config.poolUsageWarning, 1),
            background: true,
            width: 4,
          }),
          statPanel({
            title: 'Pending requests',
            description: 'Requests waiting for a connection now, all pools.',
            targets: [{ expr: sumBy([], q.select('dbConnectionPendingRequests', POOL)) }],
            thresholds: [{ value: 1, color: 'orange' }],
            decimals: 0,
            width: 4,
          }),
          statPanel({
            title: 'Acquire timeouts',
            description:
              'Requests for a connection that timed out over the time range (db.client.connection.timeouts).',
            targets: [
              {
                expr: `round(${sumBy([], q.increaseOverRange('dbConnectionTimeouts', POOL))})`,
                instant: true,
              },
            ],
            thresholds: [{ value: 1, color: 'red' }],
            decimals: 0,
            width: 4,
          }),
        ],
      },
      {
        title: 'Queries',
        panels: [
          timeseriesPanel({
            title: 'Queries by operation and outcome',
            description:
              'Queries outside transactions per second by pipeline, operation (db.operation.name: SELECT, INSERT, …) and outcome.',
            targets: [
              {
                expr: sumBy([...BY_OPERATION, LABEL.outcome], q.rate('callDuration', QUERIES)),
                legend: `${OPERATION_LEGEND} {{${LABEL.outcome}}}`,
              },
            ],
            unit: 'ops',
            stack: true,
            width: 8,
          }),
          timeseriesPanel({
            title: 'Query duration p95 by operation',
            description:
              '95th percentile of a query by operation, retries and backoff waits included (resilience.call.duration).',
            targets: [
              {
                expr: q.quantile(0.95, 'callDuration', BY_OPERATION, QUERIES),
                legend: OPERATION_LEGEND,
              },
            ],
            unit: 's',
            width: 8,
          }),
          timeseriesPanel({
            title: 'Query failure rate by operation',
            description: `Queries that failed after their retries / queries, by operation; dashed lines at the failure-rate thresholds (${percent(config.failureRate.warning)} / ${percent(config.failureRate.critical)}).`,
            targets: [
              {
                expr: `${orZero(sumBy(BY_OPERATION, q.rate('callDuration', [...QUERIES, eq(LABEL.outcome, 'failure')])), operations)} / ${operations}`,
                legend: OPERATION_LEGEND,
              },
            ],
            unit: 'percentunit',
            min: 0,
            max: 1,
            thresholds,
            drawThresholds: true,
            width: 8,
          }),
          timeseriesPanel({
            title: 'Retried failures by error code',
            description:
              "Failed attempts that were followed by another attempt, per second, by pipeline and error.type (SQLSTATE, MySQL error number, SQLite code, or connection_terminated, acquire_timeout, …): failed attempts − failed calls with the same error, since a call's final error is its last attempt's.",
            targets: [
              {
                expr: retriedFailures(q),
                legend: `{{${LABEL.name}}} {{${LABEL.errorType}}}`,
              },
            ],
            unit: 'ops',
          }),
          timeseriesPanel({
            title: 'Retry decisions',
            description:
              'Decisions after failed attempts per second by pipeline, decision and reason: retry, give_up (max_attempts), skipped (non_retryable: e.g. a write whose connection dropped after sending).',
            targets: [
              {
                expr: sumBy(
                  [LABEL.name, LABEL.decision, LABEL.reason],
                  q.rate('retryDecisions', DB),
                ),
                legend: `{{${LABEL.name}}} {{${LABEL.decision}}} {{${LABEL.reason}}}`,
              },
            ],
            unit: 'ops',
            stack: true,
          }),
        ],
      },
      {
        title: 'Transactions',
        panels: [
          timeseriesPanel({
            title: 'Transactions by outcome',
            description:
              'transaction(fn) calls per second by outcome; success_after_retry means the callback ran more than once.',
            targets: [
              {
                expr: sumBy([LABEL.name, LABEL.outcome], q.rate('callDuration', TRANSACTIONS)),
                legend: `{{${LABEL.name}}} {{${LABEL.outcome}}}`,
              },
            ],
            unit: 'ops',
            stack: true,
            width: 6,
          }),
          timeseriesPanel({
            title: 'Transactions re-run',
            description:
              'Whole transactions run again per second: attempts − calls of the <name>.transaction pipelines.',
            targets: [{ expr: reruns(q, [LABEL.name]), legend: `{{${LABEL.name}}}` }],
            unit: 'ops',
            width: 6,
          }),
          timeseriesPanel({
            title: 'Transaction duration p95',
            description: '95th percentile of a transaction, every run included.',
            targets: [
              {
                expr: q.quantile(0.95, 'callDuration', [LABEL.name], TRANSACTIONS),
                legend: `{{${LABEL.name}}}`,
              },
            ],
            unit: 's',
            width: 6,
          }),
          timeseriesPanel({
            title: 'Lost COMMITs resolved',
            description:
              'Transactions whose COMMIT acknowledgement was lost, by what the database answered when asked (PostgreSQL txid_status): committed (resolved, nothing re-run), aborted (re-run), unknown (UnknownCommitOutcomeError) (resilience.db.commit_verifications).',
            targets: [
              {
                expr: sumBy(
                  [LABEL.name, LABEL.commitOutcome],
                  q.increase('dbCommitVerifications', DB),
                ),
                legend: `{{${LABEL.name}}} {{${LABEL.commitOutcome}}}`,
              },
            ],
            width: 6,
          }),
        ],
      },
      {
        title: 'Connection pool',
        panels: [
          timeseriesPanel({
            title: 'Connections',
            description:
              'Open connections by pool and state (used: lent to a caller; idle: free in the pool), and the most the pool may open (db.client.connection.count, db.client.connection.max).',
            targets: [
              {
                expr: sumBy(
                  [LABEL.pool, LABEL.connectionState],
                  q.select('dbConnectionCount', POOL),
                ),
                legend: `${POOL_LEGEND} {{${LABEL.connectionState}}}`,
              },
              {
                expr: sumBy(BY_POOL, q.select('dbConnectionMax', POOL)),
                legend: `${POOL_LEGEND} max`,
              },
            ],
            min: 0,
            width: 8,
          }),
          timeseriesPanel({
            title: 'Pool usage',
            description: `Used / max connections by pool and instance; dashed lines at ${percent(config.poolUsageWarning)} (the exhaustion threshold at which a warning is counted) and 100%.`,
            targets: [{ expr: poolUsage(q), legend: `${POOL_LEGEND} {{instance}}` }],
            unit: 'percentunit',
            min: 0,
            max: 1,
            thresholds: warningCritical(config.poolUsageWarning, 1),
            drawThresholds: true,
            width: 8,
          }),
          timeseriesPanel({
            title: 'Pending requests',
            description:
              'Requests waiting for a connection, by pool (db.client.connection.pending_requests).',
            targets: [
              {
                expr: sumBy(BY_POOL, q.select('dbConnectionPendingRequests', POOL)),
                legend: POOL_LEGEND,
              },
            ],
            min: 0,
            width: 8,
          }),
          timeseriesPanel({
            title: 'Connection wait time',
            description:
              'Time a request waited for a connection, for those that got one: p50 and p99 by pool (db.client.connection.wait_time).',
            targets: [0.5, 0.99].map((quantile) => ({
              expr: q.quantile(quantile, 'dbConnectionWaitTime', BY_POOL, POOL),
              legend: `${POOL_LEGEND} p${quantile * 100}`,
            })),
            unit: 's',
            width: 8,
          }),
          timeseriesPanel({
            title: 'Acquire timeouts',
            description:
              'Requests for a connection that timed out before the pool could lend one, per second (db.client.connection.timeouts).',
            targets: [
              {
                expr: sumBy(BY_POOL, q.rate('dbConnectionTimeouts', POOL)),
                legend: POOL_LEGEND,
              },
            ],
            unit: 'ops',
            width: 8,
          }),
          timeseriesPanel({
            title: 'Exhaustion warnings',
            description: `Times a pool's usage rose to its exhaustion threshold (default ${percent(config.poolUsageWarning)} of max) within each interval (resilience.db.pool.exhaustion_warnings).`,
            targets: [
              {
                expr: sumBy(BY_POOL, q.increase('dbPoolExhaustionWarnings', POOL)),
                legend: POOL_LEGEND,
              },
            ],
            width: 8,
          }),
        ],
      },
      {
        title: 'Database breaker',
        panels: [
          breakerTimeline(q, {
            title: 'Database breaker state',
            description:
              'State of the breaker of each database over time: it opens when the database is unreachable (refused or lost connections, acquire timeouts, too many connections), never on deadlocks or constraint errors.',
            matchers: DB,
            by: [LABEL.name],
            legend: `{{${LABEL.name}}}`,
            width: 12,
          }),
          timeseriesPanel({
            title: 'Calls refused by the database breaker',
            description:
              'Queries and transactions per second failed fast by the open breaker (resilience.circuit_breaker.rejections).',
            targets: [
              {
                expr: sumBy([LABEL.name, LABEL.state], q.rate('circuitRejections', DB)),
                legend: `{{${LABEL.name}}} {{${LABEL.state}}}`,
              },
            ],
            unit: 'ops',
            width: 12,
          }),
        ],
      },
    ];
  },
};

/**
 * Failed attempts that another attempt followed, by pipeline and error.type: every failed call
 * ends with one failed attempt of the same error.type, so subtracting the failed calls leaves the
 * failures that were retried (or re-run). `or … * 0` keeps the error types no call failed with.
 */
function retriedFailures(q: Promql): string {
  const by = [LABEL.name, LABEL.errorType];
  const failed = [...DB, eq(LABEL.outcome, 'failure')];
  const attempts = sumBy(by, q.rate('attemptDuration', failed));
  const calls = sumBy(by, q.rate('callDuration', failed));
  return `clamp_min(${attempts} - ${orZero(calls, attempts)}, 0)`;
}
