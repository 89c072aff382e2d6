import {
  CIRCUIT_STATES,
  type CircuitState,
  PROMETHEUS_NAMINGS,
  type PrometheusNaming,
} from 'otel-resilience';

/**
 * One window pair of the SRE workbook's multiwindow, multi-burn-rate alerts: the alert condition
 * holds while the error budget burns faster than `factor` times the sustainable rate over both
 * the `long` window (is it significant?) and the `short` one (is it still happening?).
 */
export interface BurnRateWindow {
  /** Prometheus duration of the long window, e.g. `1h`. */
  readonly long: string;
  /** Prometheus duration of the short window, e.g. `5m`; conventionally 1/12 of `long`. */
  readonly short: string;
  /** Burn-rate factor: 1 spends the whole budget in the SLO period, 14.4 spends 2% of 30 d in 1 h. */
  readonly factor: number;
}

/** The alerts of one severity built from a list of {@link BurnRateWindow}s. */
export interface BurnRateAlertConfig {
  /** `for:` of the alert. */
  readonly for: string;
  /** Window pairs, any of which fires the alert. */
  readonly windows: readonly BurnRateWindow[];
}

/**
 * Everything the generated rules depend on. Build one with {@link defineAlertsConfig}, which
 * fills in the defaults below and validates the result.
 */
export interface AlertsConfig {
  /**
   * CamelCase prefix of every alert name (`Resilience` → `ResilienceCircuitBreakerOpen`). Its
   * snake_case form is the first segment of every recording rule (`resilience:calls:rate5m`).
   * Default `Resilience`.
   */
  readonly prefix: string;
  /**
   * How metric names reach Prometheus: `otel-js` (`@opentelemetry/exporter-prometheus`: no unit
   * suffix) or `collector` (the OpenTelemetry Collector's Prometheus exporter: `_seconds` on
   * durations). Default `otel-js`.
   */
  readonly naming: PrometheusNaming;
  /**
   * Extra label matchers added to every metric selector, PromQL syntax without braces, e.g.
   * `job=~"checkout|billing"` or `namespace="prod", otel_scope_name="otel-resilience"`. Default
   * none (every job).
   */
  readonly selector: string;
  /**
   * Labels every aggregation keeps besides the instrument's own identity (`resilience_name`, the
   * pool name): the service, selected by `job` (with the JS exporter `service.name` is only on
   * `target_info`). `instance` and `otel_scope_name` are aggregated away. Default `['job']`.
   */
  readonly groupBy: readonly string[];
  /** Absolute URL of the runbook; each alert links to `<runbookUrl>#<anchor>`. */
  readonly runbookUrl: string;
  /**
   * How often Prometheus scrapes the services. Every `rate()` window must span at least four
   * scrapes (Grafana's `$__rate_interval` rule), so the windows can be no shorter than 4× this.
   * Default `15s` (windows of at least 1m).
   */
  readonly scrapeInterval: string;
  /** Share of calls through a pipeline that fail (seed 003: > 20% warning, > 50% critical). */
  readonly failureRate: {
    /** `rate()` window of the ratio. Default `5m`. */
    readonly window: string;
    /** Warning above this share of failed calls, in (0, 1). Default `0.2`. */
    readonly warning: number;
    /** Default `10m`. */
    readonly warningFor: string;
    /** Critical above this share, in (warning, 1). Default `0.5`. */
    readonly critical: number;
    /** Default `5m`. */
    readonly criticalFor: string;
    /**
     * Fewest calls in `window` for the ratio to count (one failure out of two calls is not a 50%
     * failure rate worth a page). 0 turns the guard off. Default `5`.
     */
    readonly minCalls: number;
  };
  /** A breaker refusing calls (seed 003: critical). */
  readonly circuitBreakerOpen: {
    /** A short `for:` rides out a breaker that opens and recovers at once. Default `1m`. */
    readonly for: string;
    /**
     * States that count as open. Default `open` and `half_open`: a breaker whose trials keep
     * failing alternates between the two, and the state gauge may be sampled in either. `isolated`
     * (held open by hand) is left out: an operator did it on purpose.
     */
    readonly states: readonly CircuitState[];
    /**
     * Labels kept besides `groupBy` and `resilience_name`, when a series has them. Default
     * `['server_address']`: the Axios interceptor has one breaker per upstream host.
     */
    readonly extraLabels: readonly string[];
  };
  /** Database connection pools (Knex plugin). */
  readonly dbPool: {
    /** Warning at or above this share of `max` in use on the fullest instance, in (0, 1]. Default `0.9`. */
    readonly usedRatio: number;
    /** Default `5m`. */
    readonly usedRatioFor: string;
    /** Critical above this many connection-acquire timeouts per second (≥ 0). Default `0`. */
    readonly acquireTimeoutsPerSecond: number;
    /** `rate()` window of the timeouts. Default `5m`. */
    readonly acquireTimeoutsWindow: string;
    /** Default `5m`. */
    readonly acquireTimeoutsFor: string;
  };
  /** Attempts per logical call: how much retries multiply the load on a dependency. */
  readonly retryAmplification: {
    /** Warning above this many attempts per call (> 1). Default `1.5`. */
    readonly attemptsPerCall: number;
    /** `rate()` window. Default `5m`. */
    readonly window: string;
    /** Default `10m`. */
    readonly for: string;
    /** Fewest calls in `window` for the ratio to count; 0 turns the guard off. Default `5`. */
    readonly minCalls: number;
  };
  /** Retry budgets (`resilience.retry_budget.tokens`). */
  readonly retryBudget: {
    /**
     * Warning while the emptiest instance's budget has fewer tokens than this (> 0); a retry
     * needs one whole token, so below 1 every retry is refused. Default `1`.
     */
    readonly minTokens: number;
    /** Default `5m`. */
    readonly for: string;
  };
  /**
   * Error-budget burn on an SLO over the calls of every pipeline (seed 002; SRE workbook ch. 5,
   * multiwindow multi-burn-rate alerts, built on recording rules).
   */
  readonly errorBudget: {
    /** Share of calls that must succeed, in (0, 1). Default `0.99`. */
    readonly sloTarget: number;
    /** Critical. Default 14.4× over 1h & 5m, 6× over 6h & 30m, `for: 2m`. */
    readonly page: BurnRateAlertConfig;
    /** Warning. Default 3× over 1d & 2h, 1× over 3d & 6h, `for: 15m`. */
    readonly ticket: BurnRateAlertConfig;
  };
}

/** A partial {@link AlertsConfig}: objects are merged with the defaults, arrays replace them. */
export type AlertsConfigInput = {
  readonly [K in keyof AlertsConfig]?: AlertsConfig[K] extends readonly unknown[]
    ? AlertsConfig[K]
    : AlertsConfig[K] extends object
      ? PartialObject<AlertsConfig[K]>
      : AlertsConfig[K];
};
type PartialObject<T> = {
  readonly [K in keyof T]?: T[K] extends readonly unknown[]
    ? T[K]
    : T[K] extends object
      ? PartialObject<T[K]>
      : T[K];
};

/**
 * Where the committed runbook is published. The repository declares no URL yet; point this (or
 * your config's `runbookUrl`) at the copy your on-call engineers can open.
 */
export const DEFAULT_RUNBOOK_URL =
  'https://github.com/otel-resilience/otel-resilience/blob/main/alerts/RUNBOOK.md';

/** The defaults: DESIGN.md's thresholds and the SRE workbook's burn-rate windows. */
export const DEFAULT_ALERTS_CONFIG: AlertsConfig = deepFreeze({
  prefix: 'Resilience',
  naming: 'otel-js',
  selector: '',
  groupBy: ['job'],
  runbookUrl: DEFAULT_RUNBOOK_URL,
  scrapeInterval: '15s',
  failureRate: {
    window: '5m',
    warning: 0.2,
    warningFor: '10m',
    critical: 0.5,
    criticalFor: '5m',
    minCalls: 5,
  },
  circuitBreakerOpen: { for: '1m', states: ['open', 'half_open'], extraLabels: ['server_address'] },
  dbPool: {
    usedRatio: 0.9,
    usedRatioFor: '5m',
    acquireTimeoutsPerSecond: 0,
    acquireTimeoutsWindow: '5m',
    acquireTimeoutsFor: '5m',
  },
  retryAmplification: { attemptsPerCall: 1.5, window: '5m', for: '10m', minCalls: 5 },
  retryBudget: { minTokens: 1, for: '5m' },
  errorBudget: {
    sloTarget: 0.99,
    page: {
      for: '2m',
      windows: [
        { long: '1h', short: '5m', factor: 14.4 },
        { long: '6h', short: '30m', factor: 6 },
      ],
    },
    ticket: {
      for: '15m',
      windows: [
        { long: '1d', short: '2h', factor: 3 },
        { long: '3d', short: '6h', factor: 1 },
      ],
    },
  },
});

/** Thrown by {@link defineAlertsConfig}; `problems` lists every invalid field, by path. */
export class AlertsConfigError extends Error {
  override readonly name = 'AlertsConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`Invalid alerts config:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/**
 * The defaults overridden by `input` (objects merged, arrays replaced), validated and frozen.
 * @throws AlertsConfigError naming every invalid or unknown field.
 */
export function defineAlertsConfig(input: AlertsConfigInput = {}): AlertsConfig {
  const problems: string[] = [];
  const merged = merge(DEFAULT_ALERTS_CONFIG, input, '', problems) as AlertsConfig;
  if (problems.length === 0) problems.push(...validate(merged));
  if (problems.length > 0) throw new AlertsConfigError(problems);
  return deepFreeze(merged);
}

function merge(base: unknown, override: unknown, path: string, problems: string[]): unknown {
  if (override === undefined) return base;
  if (isPlainObject(base)) {
    if (!isPlainObject(override)) {
      problems.push(`${path || 'config'}: must be an object, got ${describe(override)}`);
      return base;
    }
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(base)) {
      out[key] = merge(base[key], override[key], join(path, key), problems);
    }
    for (const key of Object.keys(override)) {
      if (!(key in base)) problems.push(`${join(path, key)}: unknown option`);
    }
    return out;
  }
  return override;
}

const join = (path: string, key: string) => (path === '' ? key : `${path}.${key}`);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

const DURATION = /^(?:\d+y)?(?:\d+w)?(?:\d+d)?(?:\d+h)?(?:\d+m)?(?:\d+s)?(?:\d+ms)?$/;
const DURATION_UNITS_MS: Readonly<Record<string, number>> = {
  y: 365 * 86_400_000,
  w: 7 * 86_400_000,
  d: 86_400_000,
  h: 3_600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
};

/** Milliseconds of a Prometheus duration (`1h30m`), or `undefined` when it is not one. */
export function parseDuration(text: string): number | undefined {
  if (typeof text !== 'string' || text === '' || !DURATION.test(text)) return undefined;
  let ms = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+)(ms|[ywdhms])/g)) {
    ms += Number(amount) * DURATION_UNITS_MS[unit as string]!;
  }
  return ms;
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const MATCHER = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)/y;

/** The matchers of a selector (`a="x", b=~"y"`), or `undefined` when it does not parse. */
export function parseSelector(
  selector: string,
): { label: string; op: string; value: string }[] | undefined {
  const matchers: { label: string; op: string; value: string }[] = [];
  if (selector.trim() === '') return matchers;
  MATCHER.lastIndex = 0;
  while (MATCHER.lastIndex < selector.length) {
    const start = MATCHER.lastIndex;
    const m = MATCHER.exec(selector);
    if (m === null || MATCHER.lastIndex === start) return undefined;
    matchers.push({ label: m[1]!, op: m[2]!, value: m[3]! });
    if (selector.slice(MATCHER.lastIndex).trim() === '') break;
  }
  return matchers;
}

function validate(c: AlertsConfig): string[] {
  const problems: string[] = [];
  const check = (ok: boolean, path: string, rule: string, value: unknown) => {
    if (!ok) problems.push(`${path}: ${rule}, got ${describe(value)}`);
  };
  const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  const ratio = (path: string, v: unknown, max: 'open' | 'closed' = 'open') =>
    check(
      finite(v) && v > 0 && (max === 'open' ? v < 1 : v <= 1),
      path,
      `must be a number in (0, 1${max === 'open' ? ')' : ']'}`,
      v,
    );
  const duration = (path: string, v: unknown): number | undefined => {
    const ms = typeof v === 'string' ? parseDuration(v) : undefined;
    check(ms !== undefined && ms > 0, path, 'must be a Prometheus duration such as "5m"', v);
    return ms;
  };
  const scrapeMs = duration('scrapeInterval', c.scrapeInterval);
  const rateWindow = (windowPath: string, window: string, forPath: string, forValue: string) => {
    const w = duration(windowPath, window);
    const f = duration(forPath, forValue);
    if (w === undefined || f === undefined || scrapeMs === undefined) return;
    check(
      w >= 4 * scrapeMs,
      windowPath,
      `must span at least four scrapes (4 × scrapeInterval ${c.scrapeInterval})`,
      window,
    );
    // A window longer than `for:` would keep the alert firing on evidence older than `for:`.
    if (w > f)
      problems.push(
        `${windowPath}: must not be longer than ${forPath} (${forValue}), got "${window}"`,
      );
  };
  const labels = (path: string, v: unknown) => {
    const ok =
      Array.isArray(v) &&
      v.every((l) => typeof l === 'string' && LABEL_NAME.test(l)) &&
      new Set(v).size === v.length;
    check(ok, path, 'must be a list of distinct label names', v);
  };
  const minCalls = (path: string, v: unknown) =>
    check(finite(v) && v >= 0, path, 'must be a number ≥ 0', v);

  check(
    typeof c.prefix === 'string' && /^[A-Z][a-zA-Z0-9]*$/.test(c.prefix),
    'prefix',
    'must be CamelCase letters and digits starting with a capital, e.g. "Resilience"',
    c.prefix,
  );
  check(
    (PROMETHEUS_NAMINGS as readonly unknown[]).includes(c.naming),
    'naming',
    `must be one of ${PROMETHEUS_NAMINGS.map((n) => `"${n}"`).join(', ')}`,
    c.naming,
  );
  check(
    typeof c.selector === 'string' && parseSelector(c.selector) !== undefined,
    'selector',
    'must be PromQL label matchers without braces, e.g. job=~"checkout|billing"',
    c.selector,
  );
  labels('groupBy', c.groupBy);
  if (Array.isArray(c.groupBy)) {
    for (const banned of ['instance', 'otel_scope_name', 'resilience_name']) {
      if (c.groupBy.includes(banned)) {
        problems.push(
          `groupBy: must not contain "${banned}" (${banned === 'resilience_name' ? 'always kept' : 'aggregated away'})`,
        );
      }
    }
  }
  let url: URL | undefined;
  try {
    url = typeof c.runbookUrl === 'string' ? new URL(c.runbookUrl) : undefined;
  } catch {
    url = undefined;
  }
  check(
    url !== undefined && (url.protocol === 'https:' || url.protocol === 'http:') && url.hash === '',
    'runbookUrl',
    'must be an absolute http(s) URL without a #fragment',
    c.runbookUrl,
  );

  const fr = c.failureRate;
  ratio('failureRate.warning', fr.warning);
  ratio('failureRate.critical', fr.critical);
  const inRange = (v: unknown) => finite(v) && v > 0 && v < 1;
  if (inRange(fr.warning) && inRange(fr.critical) && fr.critical <= fr.warning) {
    problems.push(
      `failureRate.critical: must be greater than failureRate.warning (${fr.warning}), got ${fr.critical}`,
    );
  }
  rateWindow('failureRate.window', fr.window, 'failureRate.criticalFor', fr.criticalFor);
  duration('failureRate.warningFor', fr.warningFor);
  {
    const w = parseDuration(fr.window);
    const f = parseDuration(fr.warningFor);
    if (w !== undefined && f !== undefined && w > f) {
      problems.push(
        `failureRate.window: must not be longer than failureRate.warningFor (${fr.warningFor}), got "${fr.window}"`,
      );
    }
  }
  minCalls('failureRate.minCalls', fr.minCalls);

  const cb = c.circuitBreakerOpen;
  duration('circuitBreakerOpen.for', cb.for);
  check(
    Array.isArray(cb.states) &&
      cb.states.length > 0 &&
      cb.states.every((s) => (CIRCUIT_STATES as readonly unknown[]).includes(s) && s !== 'closed'),
    'circuitBreakerOpen.states',
    `must be a non-empty list of ${CIRCUIT_STATES.filter((s) => s !== 'closed').join(', ')}`,
    cb.states,
  );
  labels('circuitBreakerOpen.extraLabels', cb.extraLabels);

  const pool = c.dbPool;
  ratio('dbPool.usedRatio', pool.usedRatio, 'closed');
  duration('dbPool.usedRatioFor', pool.usedRatioFor);
  check(
    finite(pool.acquireTimeoutsPerSecond) && pool.acquireTimeoutsPerSecond >= 0,
    'dbPool.acquireTimeoutsPerSecond',
    'must be a number ≥ 0',
    pool.acquireTimeoutsPerSecond,
  );
  rateWindow(
    'dbPool.acquireTimeoutsWindow',
    pool.acquireTimeoutsWindow,
    'dbPool.acquireTimeoutsFor',
    pool.acquireTimeoutsFor,
  );

  const amp = c.retryAmplification;
  check(
    finite(amp.attemptsPerCall) && amp.attemptsPerCall > 1,
    'retryAmplification.attemptsPerCall',
    'must be a number > 1 (one attempt per call is no retry at all)',
    amp.attemptsPerCall,
  );
  rateWindow('retryAmplification.window', amp.window, 'retryAmplification.for', amp.for);
  minCalls('retryAmplification.minCalls', amp.minCalls);

  check(
    finite(c.retryBudget.minTokens) && c.retryBudget.minTokens > 0,
    'retryBudget.minTokens',
    'must be a number > 0',
    c.retryBudget.minTokens,
  );
  duration('retryBudget.for', c.retryBudget.for);

  const eb = c.errorBudget;
  ratio('errorBudget.sloTarget', eb.sloTarget);
  for (const severity of ['page', 'ticket'] as const) {
    const alert = eb[severity];
    const path = `errorBudget.${severity}`;
    duration(`${path}.for`, alert.for);
    if (!Array.isArray(alert.windows) || alert.windows.length === 0) {
      problems.push(
        `${path}.windows: must be a non-empty list of { long, short, factor }, got ${describe(alert.windows)}`,
      );
      continue;
    }
    alert.windows.forEach((w, i) => {
      const at = `${path}.windows[${i}]`;
      if (!isPlainObject(w)) {
        problems.push(`${at}: must be an object { long, short, factor }, got ${describe(w)}`);
        return;
      }
      for (const key of Object.keys(w)) {
        if (!['long', 'short', 'factor'].includes(key))
          problems.push(`${at}.${key}: unknown option`);
      }
      const long = duration(`${at}.long`, w.long);
      const short = duration(`${at}.short`, w.short);
      if (long !== undefined && short !== undefined && short >= long) {
        problems.push(`${at}.short: must be shorter than ${at}.long (${w.long}), got "${w.short}"`);
      }
      check(finite(w.factor) && w.factor > 0, `${at}.factor`, 'must be a number > 0', w.factor);
      if (finite(w.factor) && finite(eb.sloTarget) && w.factor * (1 - eb.sloTarget) >= 1) {
        problems.push(
          `${at}.factor: ${w.factor}× an error budget of ${formatPercent(1 - eb.sloTarget)} is 100% errors or more, so it can never fire`,
        );
      }
    });
  }
  return problems;
}

/** `0.2` → `20%`, without floating-point noise. */
export function formatPercent(ratio: number): string {
  return `${Number((ratio * 100).toPrecision(6))}%`;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
