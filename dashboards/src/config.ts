import { PROMETHEUS_NAMINGS, type PrometheusNaming } from 'otel-resilience';

/**
 * Everything a user may change without editing a dashboard: where the data comes from, how the
 * metric names look, which series to keep, and the thresholds drawn on the panels. Pass a
 * `Partial` of it (see {@link DashboardConfigInput}) to {@link resolveConfig}; every field left
 * out takes the default in {@link DEFAULT_CONFIG}.
 */
export interface DashboardConfig {
  /**
   * Name of the datasource input of the import screen (`__inputs`): the JSON refers to it as
   * `${DS_PROMETHEUS}` and Grafana replaces it with the Prometheus datasource picked on import.
   * Upper-case letters, digits and `_`. Default `'DS_PROMETHEUS'`.
   */
  readonly datasourceInput: string;
  /** Label of that input on the import screen. Default `'Prometheus'`. */
  readonly datasourceLabel: string;
  /**
   * How metric names reach Prometheus: `'otel-js'` (`@opentelemetry/exporter-prometheus`: no unit
   * suffix) or `'collector'` (the OpenTelemetry Collector's Prometheus exporters: `_seconds` on
   * durations). Default `'otel-js'`.
   */
  readonly naming: PrometheusNaming;
  /**
   * Extra label matchers added to every series selector, panels and template variables alike,
   * e.g. `cluster="prod", namespace=~"shop-.*"`. Comma-separated PromQL matchers, without braces.
   * Default `''` (none).
   */
  readonly selector: string;
  /**
   * Failure rate (failed calls / calls, 0–1) of a pipeline, a host or a route at which panels turn
   * orange (`warning`) and red (`critical`). Defaults 0.2 and 0.5: the seeds' "failure rate > 20%
   * warning, > 50% critical", the same defaults as the alert rules in `alerts/`.
   */
  readonly failureRate: { readonly warning: number; readonly critical: number };
  /**
   * Share of a connection pool in use (used / max, 0–1) drawn on the pool-usage panel. Default
   * 0.8: the default `exhaustionThreshold` of the engine's `ConnectionPoolTelemetry`, at which it
   * counts `resilience.db.pool.exhaustion_warnings`.
   */
  readonly poolUsageWarning: number;
  /**
   * Prefix of every dashboard `uid` (`<prefix>-overview`, with `-collector` appended for the
   * `collector` naming). Letters, digits, `-` and `_`; every uid must stay within Grafana's 40
   * characters. Default `'otel-resilience'`.
   */
  readonly uidPrefix: string;
  /** Prefix of every dashboard title (`<prefix> / Overview`). Default `'otel-resilience'`. */
  readonly titlePrefix: string;
  /**
   * Tags of every dashboard; the naming scheme is added, and the links between the dashboards
   * follow dashboards with all of these tags. Default `['otel-resilience']`.
   */
  readonly tags: readonly string[];
  /** Default time range, from `now-<timeRange>` to now. Default `'1h'`. */
  readonly timeRange: string;
  /** Default refresh interval (`''` for none). Default `'30s'`. */
  readonly refresh: string;
}

/** What {@link resolveConfig} accepts: any subset of {@link DashboardConfig}. */
export type DashboardConfigInput = {
  readonly [K in keyof DashboardConfig]?: DashboardConfig[K] extends { readonly warning: number }
    ? Partial<DashboardConfig[K]>
    : DashboardConfig[K];
};

/** The defaults: the JS exporter's names, a datasource picked on import, the seeds' thresholds. */
export const DEFAULT_CONFIG: DashboardConfig = Object.freeze({
  datasourceInput: 'DS_PROMETHEUS',
  datasourceLabel: 'Prometheus',
  naming: 'otel-js',
  selector: '',
  failureRate: Object.freeze({ warning: 0.2, critical: 0.5 }),
  poolUsageWarning: 0.8,
  uidPrefix: 'otel-resilience',
  titlePrefix: 'otel-resilience',
  tags: Object.freeze(['otel-resilience']),
  timeRange: '1h',
  refresh: '30s',
});

/** The longest uid suffix a dashboard adds to `uidPrefix` (`-http-client-collector`). */
export const LONGEST_UID_SUFFIX = '-http-client-collector';

const KEYS = new Set<string>(Object.keys(DEFAULT_CONFIG));

/** One PromQL label matcher: `name op "value"`. */
const MATCHER = String.raw`\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(?:=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"\s*`;
const SELECTOR = new RegExp(`^(?:${MATCHER}(?:,${MATCHER})*,?\\s*)?$`);
const DURATION = /^[1-9][0-9]*(?:ms|s|m|h|d|w|y)$/;

/**
 * The full configuration: `input` over {@link DEFAULT_CONFIG}, checked. Throws a `TypeError`
 * naming the field and the value when anything is wrong, so a bad config fails the generation
 * rather than producing a dashboard that shows nothing.
 */
export function resolveConfig(input: DashboardConfigInput = {}): DashboardConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new TypeError(`dashboards config: expected an object, got ${describe(input)}`);
  }
  for (const key of Object.keys(input)) {
    if (!KEYS.has(key)) {
      throw new TypeError(
        `dashboards config: unknown field "${key}" (known: ${[...KEYS].join(', ')})`,
      );
    }
  }
  check(
    'failureRate',
    input.failureRate,
    input.failureRate === undefined ||
      (typeof input.failureRate === 'object' && input.failureRate !== null),
    'an object { warning, critical }',
  );
  check(
    'tags',
    input.tags,
    input.tags === undefined || Array.isArray(input.tags),
    'an array of strings',
  );
  const config: DashboardConfig = {
    ...DEFAULT_CONFIG,
    ...(input as Partial<DashboardConfig>),
    failureRate: { ...DEFAULT_CONFIG.failureRate, ...(input.failureRate ?? {}) },
    tags: [...(input.tags ?? DEFAULT_CONFIG.tags)],
  };

  check(
    'datasourceInput',
    config.datasourceInput,
    typeof config.datasourceInput === 'string' && /^[A-Z][A-Z0-9_]*$/.test(config.datasourceInput),
    'upper-case letters, digits and "_", starting with a letter (e.g. "DS_PROMETHEUS")',
  );
  check(
    'datasourceLabel',
    config.datasourceLabel,
    typeof config.datasourceLabel === 'string' && config.datasourceLabel.trim() !== '',
    'a non-empty string',
  );
  check(
    'naming',
    config.naming,
    PROMETHEUS_NAMINGS.includes(config.naming),
    `one of ${PROMETHEUS_NAMINGS.map((n) => `"${n}"`).join(', ')}`,
  );
  check(
    'selector',
    config.selector,
    typeof config.selector === 'string' && SELECTOR.test(config.selector),
    'comma-separated PromQL label matchers without braces, e.g. cluster="prod", namespace=~"shop-.*"',
  );
  const { warning, critical } = config.failureRate;
  check('failureRate.warning', warning, isRatio(warning), 'a number in (0, 1]');
  check('failureRate.critical', critical, isRatio(critical), 'a number in (0, 1]');
  check(
    'failureRate',
    config.failureRate,
    warning < critical,
    'warning lower than critical (e.g. { warning: 0.2, critical: 0.5 })',
  );
  check(
    'poolUsageWarning',
    config.poolUsageWarning,
    isRatio(config.poolUsageWarning),
    'a number in (0, 1]',
  );
  check(
    'uidPrefix',
    config.uidPrefix,
    typeof config.uidPrefix === 'string' &&
      /^[a-zA-Z0-9_-]+$/.test(config.uidPrefix) &&
      config.uidPrefix.length + LONGEST_UID_SUFFIX.length <= 40,
    `letters, digits, "-" and "_", at most ${40 - LONGEST_UID_SUFFIX.length} characters (Grafana uids have at most 40)`,
  );
  check(
    'titlePrefix',
    config.titlePrefix,
    typeof config.titlePrefix === 'string' && config.titlePrefix.trim() !== '',
    'a non-empty string',
  );
  check(
    'tags',
    config.tags,
    config.tags.every((tag) => typeof tag === 'string' && tag.trim() !== ''),
    'non-empty strings',
  );
  check(
    'timeRange',
    config.timeRange,
    DURATION.test(String(config.timeRange)),
    'a duration such as "1h" or "30m"',
  );
  check(
    'refresh',
    config.refresh,
    config.refresh === '' || DURATION.test(String(config.refresh)),
    'a duration such as "30s", or "" for none',
  );
  return Object.freeze(config);
}

function isRatio(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 && value <= 1;
}

function check(field: string, value: unknown, ok: boolean, expected: string): void {
  if (!ok) {
    throw new TypeError(`dashboards config: ${field} must be ${expected}; got ${describe(value)}`);
  }
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
