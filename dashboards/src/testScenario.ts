/**
 * Test support: a model of what one service using every adapter exports, as Prometheus series
 * in `promtool test rules` input form, for both naming schemes. Names come from
 * `prometheusNames()`, labels from `prometheusLabel()`; the series and label values follow the
 * adapters' READMEs ("Emitted telemetry"). It checks the dashboards' PromQL logic (groupings,
 * divisions, `or … * 0` fallbacks): every query must answer something. Whether the real
 * adapters emit exactly this is what the end-to-end test against the example service checks.
 */
import {
  ATTR_TIMEOUT_STRATEGY,
  ATTR_URL_SCHEME,
  type MetricKey,
  type PrometheusNaming,
  prometheusLabel,
} from 'otel-resilience';
import { LABEL, Promql } from './promql.js';

/** One `input_series` entry of a promtool unit test. */
export interface InputSeries {
  readonly series: string;
  readonly values: string;
}

type Labels = Readonly<Record<string, string>>;

/** Samples every 15 s for 15 min: counters growing by `perStep`, gauges constant. */
const STEPS = 60;
const counter = (perStep: number) => `0+${perStep}x${STEPS}`;
const gauge = (value: number) => `${value}x${STEPS}`;

const STRATEGY = prometheusLabel(ATTR_TIMEOUT_STRATEGY);
const TARGET = { job: 'shop', instance: 'shop:9464' };
const BUCKETS = ['0.005', '0.1', '1', '+Inf'] as const;

/** Series of the scenario under `naming`. */
export function scenarioSeries(naming: PrometheusNaming): InputSeries[] {
  const q = new Promql(naming, []);
  const target: Labels =
    naming === 'otel-js' ? { ...TARGET, otel_scope_name: 'otel-resilience' } : TARGET;
  const out: InputSeries[] = [];
  const selector = (name: string, labels: Labels) =>
    `${name}{${Object.entries({ ...target, ...labels })
      .map(([k, v]) => `${k}="${v}"`)
      .join(', ')}}`;
  const add = (key: MetricKey, labels: Labels, values: string) => {
    out.push({ series: selector(q.metric(key, 'count'), labels), values });
  };
  /** A histogram: `perStep` observations per step, spread over the buckets. */
  const histogram = (key: MetricKey, labels: Labels, perStep: number) => {
    BUCKETS.forEach((le, index) => {
      const cumulative = Math.ceil((perStep * (index + 1)) / BUCKETS.length);
      out.push({
        series: selector(q.metric(key, 'bucket'), { ...labels, le }),
        values: counter(le === '+Inf' ? perStep : cumulative),
      });
    });
    out.push({ series: selector(q.metric(key, 'count'), labels), values: counter(perStep) });
    out.push({ series: selector(q.metric(key, 'sum'), labels), values: counter(perStep / 10) });
  };
  const failure = (category: string, errorType: string) => ({
    [LABEL.outcome]: 'failure',
    [LABEL.category]: category,
    [LABEL.errorType]: errorType,
  });
  const decision = (decision: string, reason: string, category: string) => ({
    [LABEL.decision]: decision,
    [LABEL.reason]: reason,
    [LABEL.category]: category,
  });
  const breaker = (labels: Labels, open: boolean) => {
    add('circuitState', { ...labels, [LABEL.state]: 'closed' }, gauge(open ? 0 : 1));
    add('circuitState', { ...labels, [LABEL.state]: 'open' }, gauge(open ? 1 : 0));
    add(
      'circuitTransitions',
      { ...labels, [LABEL.previousState]: 'closed', [LABEL.state]: 'open' },
      counter(open ? 1 : 0),
    );
    if (open) add('circuitRejections', { ...labels, [LABEL.state]: 'open' }, counter(3));
  };

  // A pipeline of the application: wrap({ name: 'prices' }, fallback, retry, breaker, timeout).
  const prices = { [LABEL.name]: 'prices' };
  histogram('callDuration', { ...prices, [LABEL.outcome]: 'success' }, 20);
  histogram('callDuration', { ...prices, [LABEL.outcome]: 'success_after_retry' }, 4);
  histogram('callDuration', { ...prices, ...failure('transient', '503') }, 2);
  histogram('attemptDuration', { ...prices, [LABEL.outcome]: 'success' }, 24);
  histogram('attemptDuration', { ...prices, ...failure('transient', '503') }, 8);
  add('retryDecisions', { ...prices, ...decision('retry', 'retryable', 'transient') }, counter(6));
  add(
    'retryDecisions',
    { ...prices, ...decision('give_up', 'max_attempts', 'transient') },
    counter(2),
  );
  breaker(prices, true);
  add(
    'timeouts',
    { ...prices, [STRATEGY]: 'cooperative', [LABEL.timeoutSource]: 'timeout' },
    counter(1),
  );
  add('fallbacks', { ...prices, [LABEL.outcome]: 'success' }, counter(2));

  // The Express middleware: shedding, time limits, a route breaker, its budget.
  const server = { [LABEL.name]: 'http.server' };
  const route = '/orders/:id';
  for (const status of ['200', '503']) {
    histogram(
      'httpServerDuration',
      {
        [LABEL.method]: 'GET',
        [LABEL.route]: route,
        [LABEL.status]: status,
        [prometheusLabel(ATTR_URL_SCHEME)]: 'http',
        ...(status === '503' ? { [LABEL.errorType]: '503' } : {}),
      },
      status === '200' ? 30 : 3,
    );
  }
  add(
    'inboundRejections',
    { ...server, [LABEL.route]: route, [LABEL.rejectionReason]: 'shed' },
    counter(2),
  );
  add(
    'inboundRejections',
    { ...server, [LABEL.route]: route, [LABEL.rejectionReason]: 'timeout' },
    counter(1),
  );
  add('invalidDeadlineHeaders', server, gauge(0));
  add('bulkheadActive', server, gauge(12));
  add('bulkheadQueued', server, gauge(3));
  add('bulkheadRejections', server, counter(2));
  add('retryBudgetTokens', server, gauge(100));
  breaker({ [LABEL.name]: `http.server ${route}`, [LABEL.route]: route }, false);

  // The Axios interceptor: one instance, one host rate-limiting it.
  const host = { [LABEL.name]: 'axios', [LABEL.serverAddress]: 'api.example.com' };
  histogram('callDuration', { ...host, [LABEL.outcome]: 'success' }, 10);
  histogram('callDuration', { ...host, [LABEL.outcome]: 'success_after_retry' }, 2);
  histogram('callDuration', { ...host, ...failure('rate_limited', '429') }, 1);
  histogram('attemptDuration', { ...host, [LABEL.outcome]: 'success' }, 12);
  histogram('attemptDuration', { ...host, ...failure('rate_limited', '429') }, 4);
  add('retryDecisions', { ...host, ...decision('retry', 'retryable', 'rate_limited') }, counter(3));
  add(
    'retryDecisions',
    { ...host, ...decision('skipped', 'retry_after_too_long', 'rate_limited') },
    counter(1),
  );
  breaker(host, false);
  add('circuitRejections', { ...host, [LABEL.state]: 'half_open' }, counter(1));
  add(
    'timeouts',
    { ...host, [STRATEGY]: 'cooperative', [LABEL.timeoutSource]: 'timeout' },
    counter(1),
  );
  add('retryBudgetTokens', { [LABEL.name]: 'axios' }, gauge(80));

  // The Knex plugin: queries, transactions, the pool and the breaker of the database.
  const db = { [LABEL.name]: 'orders-db', [LABEL.dbSystem]: 'sqlite' };
  const select = { ...db, [LABEL.dbOperation]: 'SELECT' };
  histogram('callDuration', { ...select, [LABEL.outcome]: 'success' }, 40);
  histogram('callDuration', { ...select, [LABEL.outcome]: 'success_after_retry' }, 2);
  histogram('callDuration', { ...select, ...failure('transient', 'SQLITE_BUSY') }, 1);
  histogram('attemptDuration', { ...select, [LABEL.outcome]: 'success' }, 42);
  histogram('attemptDuration', { ...select, ...failure('transient', 'SQLITE_BUSY') }, 4);
  add('retryDecisions', { ...select, ...decision('retry', 'retryable', 'transient') }, counter(3));
  const trx = { [LABEL.name]: 'orders-db.transaction', [LABEL.dbSystem]: 'sqlite' };
  histogram('callDuration', { ...trx, [LABEL.outcome]: 'success' }, 5);
  histogram('callDuration', { ...trx, [LABEL.outcome]: 'success_after_retry' }, 1);
  histogram('attemptDuration', { ...trx, [LABEL.outcome]: 'success' }, 6);
  histogram('attemptDuration', { ...trx, ...failure('transient', '40001') }, 1);
  add('retryDecisions', { ...trx, ...decision('retry', 'retryable', 'transient') }, counter(1));
  add('dbCommitVerifications', { ...trx, [LABEL.commitOutcome]: 'committed' }, counter(1));
  breaker(db, false);
  add('circuitRejections', { ...db, [LABEL.state]: 'open' }, counter(1));
  const pool = { [LABEL.pool]: 'orders-db', [LABEL.dbSystem]: 'sqlite' };
  add('dbConnectionCount', { ...pool, [LABEL.connectionState]: 'used' }, gauge(8));
  add('dbConnectionCount', { ...pool, [LABEL.connectionState]: 'idle' }, gauge(2));
  add('dbConnectionMax', pool, gauge(10));
  add('dbConnectionPendingRequests', pool, gauge(1));
  add('dbConnectionTimeouts', pool, counter(1));
  add('dbPoolExhaustionWarnings', pool, counter(1));
  histogram('dbConnectionWaitTime', pool, 50);
  return out;
}
