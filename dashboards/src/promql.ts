import {
  ATTR_CIRCUIT_PREVIOUS_STATE,
  ATTR_CIRCUIT_STATE,
  ATTR_DB_CLIENT_CONNECTION_POOL_NAME,
  ATTR_DB_CLIENT_CONNECTION_STATE,
  ATTR_DB_COMMIT_OUTCOME,
  ATTR_DB_OPERATION_NAME,
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
  type MetricKey,
  type PrometheusNaming,
  prometheusLabel,
  prometheusNames,
} from 'otel-resilience';

/**
 * Stable semantic-convention `server.address`: the Axios interceptor's constant attribute on the
 * series of each host's policies (`attributes: { 'server.address': host }`). Not in the engine's
 * attribute module because the engine never sets it itself.
 */
export const ATTR_SERVER_ADDRESS = 'server.address';

/** Prometheus label of every attribute the dashboards use: always through `prometheusLabel()`. */
export const LABEL = {
  name: prometheusLabel(ATTR_RESILIENCE_NAME),
  outcome: prometheusLabel(ATTR_RESILIENCE_OUTCOME),
  errorType: prometheusLabel(ATTR_ERROR_TYPE),
  category: prometheusLabel(ATTR_ERROR_CATEGORY),
  decision: prometheusLabel(ATTR_RETRY_DECISION),
  reason: prometheusLabel(ATTR_RETRY_REASON),
  state: prometheusLabel(ATTR_CIRCUIT_STATE),
  previousState: prometheusLabel(ATTR_CIRCUIT_PREVIOUS_STATE),
  timeoutSource: prometheusLabel(ATTR_TIMEOUT_SOURCE),
  rejectionReason: prometheusLabel(ATTR_REJECTION_REASON),
  route: prometheusLabel(ATTR_HTTP_ROUTE),
  method: prometheusLabel(ATTR_HTTP_REQUEST_METHOD),
  status: prometheusLabel(ATTR_HTTP_RESPONSE_STATUS_CODE),
  serverAddress: prometheusLabel(ATTR_SERVER_ADDRESS),
  dbSystem: prometheusLabel(ATTR_DB_SYSTEM_NAME),
  dbOperation: prometheusLabel(ATTR_DB_OPERATION_NAME),
  pool: prometheusLabel(ATTR_DB_CLIENT_CONNECTION_POOL_NAME),
  connectionState: prometheusLabel(ATTR_DB_CLIENT_CONNECTION_STATE),
  commitOutcome: prometheusLabel(ATTR_DB_COMMIT_OUTCOME),
} as const;

/** Labels Prometheus itself adds to every scraped series (the target's). */
export const TARGET_LABELS = ['job', 'instance'] as const;

/** A label matcher: `label op "value"`, the value escaped as a PromQL string. */
export function matcher(label: string, op: '=' | '!=' | '=~' | '!~', value: string): string {
  return `${label}${op}"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** `label="value"`. */
export const eq = (label: string, value: string): string => matcher(label, '=', value);
/** `label!="value"`. */
export const ne = (label: string, value: string): string => matcher(label, '!=', value);
/** `label=~"regex"`. */
export const re = (label: string, regex: string): string => matcher(label, '=~', regex);
/** `label!~"regex"`. */
export const nre = (label: string, regex: string): string => matcher(label, '!~', regex);
/** `label=~"$variable"`: a multi-value template variable (its "All" value is `.*`). */
export const isVar = (label: string, variable: string): string => `${label}=~"$${variable}"`;
/** `label!=""`: the series carries the label. */
export const has = (label: string): string => ne(label, '');

/** Which series of a catalogue instrument: a histogram's `_bucket`, `_count` or `_sum`. */
export type SeriesPart = 'bucket' | 'count' | 'sum';

/**
 * Builds the PromQL of one dashboard: every metric name from `prometheusNames()` for the
 * configured naming scheme, every selector with the dashboard's common matchers (template
 * variables and the configured extra selector) first.
 */
export class Promql {
  constructor(
    readonly naming: PrometheusNaming,
    /** Matchers of every selector: `job=~"$job"`, the config's extra selector, … */
    readonly common: readonly string[],
  ) {}

  /** The series name of catalogue instrument `key` (for histograms: `part`, default `_count`). */
  metric(key: MetricKey, part: SeriesPart = 'count'): string {
    const names = prometheusNames(key, this.naming);
    if (names.type !== 'histogram') return names.name;
    const name = names[part];
    if (name === undefined) throw new Error(`no ${part} series for ${key}`);
    return name;
  }

  /** `name{common…, matchers…}`. */
  select(key: MetricKey, matchers: readonly string[] = [], part: SeriesPart = 'count'): string {
    const all = [...this.common, ...matchers];
    return all.length === 0
      ? this.metric(key, part)
      : `${this.metric(key, part)}{${all.join(', ')}}`;
  }

  /** `rate(name{…}[$__rate_interval])`: counters, or a histogram's `part` (default `_count`). */
  rate(key: MetricKey, matchers: readonly string[] = [], part: SeriesPart = 'count'): string {
    return `rate(${this.select(key, matchers, part)}[$__rate_interval])`;
  }

  /** `increase(name{…}[$__rate_interval])`: events within each interval, for rare events. */
  increase(key: MetricKey, matchers: readonly string[] = [], part: SeriesPart = 'count'): string {
    return `increase(${this.select(key, matchers, part)}[$__rate_interval])`;
  }

  /** `increase(name{…}[$__range])`: how much a counter grew over the dashboard's time range. */
  increaseOverRange(
    key: MetricKey,
    matchers: readonly string[] = [],
    part: SeriesPart = 'count',
  ): string {
    return `increase(${this.select(key, matchers, part)}[$__range])`;
  }

  /** `histogram_quantile(q, sum by (le, …) (rate(name_bucket{…}[$__rate_interval])))`. */
  quantile(q: number, key: MetricKey, by: readonly string[], matchers: readonly string[] = []) {
    return `histogram_quantile(${q}, ${sumBy(['le', ...by], this.rate(key, matchers, 'bucket'))})`;
  }
}

/** `sum by (labels) (expr)`, or `sum(expr)` without labels. */
export function sumBy(labels: readonly string[], expr: string): string {
  return labels.length === 0 ? `sum(${expr})` : `sum by (${labels.join(', ')}) (${expr})`;
}

/** `max by (labels) (expr)`. */
export function maxBy(labels: readonly string[], expr: string): string {
  return labels.length === 0 ? `max(${expr})` : `max by (${labels.join(', ')}) (${expr})`;
}

/**
 * `expr`, with 0 for every group of `family` that `expr` has no series for. Counters of rare
 * label values (failures, budget refusals, one rejection reason) only exist once that value has
 * been seen; without this, a healthy pipeline shows "No data" instead of 0 and a ratio drops it.
 * `family` must have the same grouping labels as `expr`.
 */
export function orZero(expr: string, family: string): string {
  return `(${expr} or ${family} * 0)`;
}

/** `numerator / denominator`, each parenthesized. */
export function ratio(numerator: string, denominator: string): string {
  return `${numerator} / ${denominator}`;
}
