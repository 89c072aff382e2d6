import { type CallOutcome, type MetricKey, prometheusNames, SCOPE_NAME } from 'otel-resilience';
import { type AlertsConfig, parseDuration, parseSelector } from './config.js';
import {
  type AlertSpec,
  type BuiltRules,
  LABEL_CIRCUIT_STATE,
  LABEL_DB_SYSTEM,
  LABEL_NAME,
  LABEL_OUTCOME,
  LABEL_POOL,
  LABEL_POOL_STATE,
  recordingNames,
  type TemplateContext,
  type ValueFormat,
} from './rules.js';

// ---------------------------------------------------------------------------------------------
// The promtool unit-test file format.

export interface PromtoolTestFile {
  readonly rule_files: readonly string[];
  readonly evaluation_interval: string;
  readonly tests: readonly TestGroup[];
}

export interface TestGroup {
  readonly name: string;
  readonly interval: string;
  readonly input_series: readonly { readonly series: string; readonly values: string }[];
  readonly alert_rule_test?: readonly AlertTest[];
  readonly promql_expr_test?: readonly ExprTest[];
}

export interface AlertTest {
  readonly eval_time: string;
  readonly alertname: string;
  readonly exp_alerts: readonly ExpectedAlert[];
}

export interface ExpectedAlert {
  readonly exp_labels: Readonly<Record<string, string>>;
  readonly exp_annotations: Readonly<Record<string, string>>;
}

export interface ExprTest {
  readonly expr: string;
  readonly eval_time: string;
  readonly exp_samples: readonly { readonly labels: string; readonly value: number }[];
}

// ---------------------------------------------------------------------------------------------
// Go formatting, as Prometheus templates print values (only the ranges the tests use).

/** Go's `%.<precision>g`. */
export function goG(value: number, precision: number): string {
  if (value === 0) return '0';
  const exponent = Math.floor(Math.log10(Math.abs(Number(value.toPrecision(precision)))));
  if (exponent < -4 || exponent >= precision) {
    throw new Error(`goG: ${value} would need an exponent; pick another test value`);
  }
  const text = value.toPrecision(precision);
  return text.includes('.') ? text.replace(/\.?0+$/, '') : text;
}

/** Go's `%.<digits>f`, refusing values too close to a rounding boundary to be sure of. */
export function goFixed(value: number, digits: number): string {
  const scaled = value * 10 ** digits;
  if (Math.abs(scaled - Math.trunc(scaled) - 0.5 * Math.sign(scaled)) < 1e-6) {
    throw new Error(`goFixed: ${value} is on a rounding boundary; pick another test value`);
  }
  return value.toFixed(digits);
}

/** Go's `%v` of a float64. */
export function goPlain(value: number): string {
  if (value !== 0 && (Math.abs(value) < 1e-4 || Math.abs(value) >= 1e21)) {
    throw new Error(`goPlain: ${value} would need an exponent; pick another test value`);
  }
  return String(value);
}

/** `value` as an annotation template would show it. */
export function formatValue(format: ValueFormat, value: number): string {
  switch (format) {
    case 'percentage':
      return `${goG(value * 100, 4)}%`;
    case 'plain':
      return goPlain(value);
    case 'fixed1':
      return goFixed(value, 1);
    case 'fixed2':
      return goFixed(value, 2);
    case 'sig3':
      return goG(value, 3);
  }
}

/** Renders annotation templates for an alert with `labels` and `value`. */
export function concreteContext(
  labels: Readonly<Record<string, string>>,
  value: number,
): TemplateContext {
  return {
    label: (name) => labels[name] ?? '',
    value: (format) => formatValue(format, value),
    ifLabel: (name, render) => {
      const v = labels[name];
      return v === undefined || v === '' ? '' : render(v);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Series.

type Labels = Readonly<Record<string, string>>;

interface Series {
  readonly name: string;
  readonly labels: Labels;
  /** One value per minute, from minute 0. */
  readonly values: readonly number[];
}

function seriesText(name: string, labels: Labels): string {
  const pairs = Object.entries(labels).map(
    ([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`,
  );
  return `${name}{${pairs.join(', ')}}`;
}

/** Compresses per-minute values into promtool's expanding notation (`a+bxn`). */
export function compressValues(values: readonly number[]): string {
  const tokens: string[] = [];
  let i = 0;
  while (i < values.length) {
    const start = values[i]!;
    if (i + 1 >= values.length) {
      tokens.push(String(start));
      break;
    }
    const step = values[i + 1]! - start;
    let j = i + 1;
    while (j + 1 < values.length && values[j + 1]! - values[j]! === step) j++;
    const n = j - i;
    if (n < 2) {
      // Two values in a row are clearer written out.
      tokens.push(String(start));
      i++;
      continue;
    }
    const sign = step < 0 ? '-' : '+';
    tokens.push(`${start}${sign}${Math.abs(step)}x${n}`);
    i = j + 1;
  }
  return tokens.join(' ');
}

/** Counter values over `minutes`, increasing by `perMinute(m)` in minute m (1-based). */
function counter(minutes: number, perMinute: (minute: number) => number): number[] {
  const values = [0];
  for (let m = 1; m <= minutes; m++) values.push(values[m - 1]! + perMinute(m));
  return values;
}

function gauge(minutes: number, at: (minute: number) => number): number[] {
  return Array.from({ length: minutes + 1 }, (_, m) => at(m));
}

/** `rate(<values>[window])` at minute `at`, as Prometheus computes it for aligned samples. */
function rate(values: readonly number[], windowMinutes: number, at: number): number {
  return (values[at]! - values[at - windowMinutes]!) / (windowMinutes * 60);
}

/** `4340` → `3d20m`. */
export function formatMinutes(total: number): string {
  if (total === 0) return '0m';
  const d = Math.floor(total / 1440);
  const h = Math.floor((total % 1440) / 60);
  const m = total % 60;
  return `${d > 0 ? `${d}d` : ''}${h > 0 ? `${h}h` : ''}${m > 0 ? `${m}m` : ''}`;
}

const toMinutes = (duration: string) => {
  const ms = parseDuration(duration)!;
  if (ms % 60_000 !== 0) throw new Error(`unit tests need whole minutes, got ${duration}`);
  return ms / 60_000;
};

/**
 * Sample and evaluation interval of the tests that span days (the slow-burn error-budget
 * alerts): evaluating every rule once a minute over three days takes promtool about a minute.
 */
export const LONG_STEP_MINUTES = 5;

/** Tests longer than this go to the long-window file. */
const LONG_TEST_MINUTES = 12 * 60;

const EXPR_PRECISION_TEXT = '0.000001';

/** PromQL's `round(value, 0.000001)`, computed as Prometheus does. */
function roundLikePrometheus(value: number): number {
  const inverse = 1 / Number(EXPR_PRECISION_TEXT);
  return Math.floor(value * inverse + 0.5) / inverse;
}

/** Rounds `x` up to a multiple of `step`. */
const ceilTo = (x: number, step: number) => Math.ceil(x / step) * step;

/** Rounds `x` to a multiple of `step`. */
const roundTo = (x: number, step: number) => Math.round(x / step) * step;

// ---------------------------------------------------------------------------------------------
// Building the test file.

/** Base labels of a scraped series, as each exporter writes them. */
function scrapeLabels(config: AlertsConfig, instance: 1 | 2): Labels {
  // Equality matchers of the selector become labels, so the test series pass the selector.
  const fromSelector: Record<string, string> = {};
  for (const m of parseSelector(config.selector) ?? []) {
    if (m.op === '=') fromSelector[m.label] = m.value;
  }
  const base: Labels =
    config.naming === 'otel-js'
      ? {
          job: 'checkout',
          instance: `10.0.0.${instance}:9464`,
          // Every series of @opentelemetry/exporter-prometheus carries the instrumentation scope.
          otel_scope_name: SCOPE_NAME,
          otel_scope_version: '0.1.0',
        }
      : // The Collector's exporter: job and instance from service.name / service.instance.id.
        { job: 'checkout', instance: `checkout-${instance}` };
  return { ...base, ...fromSelector };
}

/**
 * The promtool unit tests of `rules`: for every alert a case silent below its threshold and one
 * firing above it, and a case for every recording rule. Inputs are derived from the config's
 * thresholds, with the metric names of its naming scheme.
 */
export function buildUnitTests(
  config: AlertsConfig,
  rules: BuiltRules,
  ruleFile: string,
): { main: PromtoolTestFile; long: PromtoolTestFile } {
  const alertByName = new Map(rules.alerts.map((a) => [a.id, a]));
  const spec = (id: string): AlertSpec => {
    const a = alertByName.get(id);
    if (a === undefined) throw new Error(`no alert ${id}`);
    return a;
  };
  const rec = recordingNames(config);
  const metric = (key: MetricKey) => {
    const n = prometheusNames(key, config.naming);
    return n.count ?? n.name;
  };
  const tests: TestGroup[] = [];
  const longTests: TestGroup[] = [];

  /** One test group under construction. */
  class Case {
    readonly series: Series[] = [];
    readonly alertTests: AlertTest[] = [];
    readonly exprTests: ExprTest[] = [];
    /**
     * @param minutes length: series run from minute 0 to `minutes`, given one value a minute
     * @param step minutes between samples and between rule evaluations: 1, or
     *   {@link LONG_STEP_MINUTES} for tests over days (they go to the long-window file)
     */
    constructor(
      readonly name: string,
      readonly minutes: number,
      readonly step = 1,
    ) {
      if (minutes % step !== 0)
        throw new Error(`${name}: ${minutes}m is not a multiple of ${step}m`);
    }

    add(key: MetricKey, labels: Labels, values: readonly number[]): readonly number[] {
      this.series.push({ name: metric(key), labels, values });
      return values;
    }

    /** Expects `alert` at minute `at` with these (label set, value) pairs, or none. */
    expectAlert(
      alert: AlertSpec,
      at: number,
      firing: readonly { labels: Labels; value: number }[],
    ): void {
      this.alertTests.push({
        eval_time: formatMinutes(at),
        alertname: alert.name,
        exp_alerts: firing.map(({ labels, value }) => {
          const kept: Record<string, string> = {};
          for (const l of alert.labels) if (labels[l] !== undefined) kept[l] = labels[l];
          const context = concreteContext(kept, value);
          return {
            exp_labels: { ...kept, severity: alert.severity },
            exp_annotations: {
              summary: alert.summary(context),
              description: alert.description(context),
              runbook_url: alert.runbookUrl,
            },
          };
        }),
      });
    }

    /**
     * Expects `expr` at minute `at` to give these samples. Values are compared rounded to 1e-6
     * (`round(expr, 0.000001)`): promtool compares floats exactly, and Prometheus versions
     * compute `rate()` in different orders.
     */
    expectExpr(
      expr: string,
      at: number,
      samples: readonly { labels: Labels; value: number }[],
      keep: readonly string[],
    ): void {
      this.exprTests.push({
        expr: `round(${expr}, ${EXPR_PRECISION_TEXT})`,
        eval_time: formatMinutes(at),
        exp_samples: samples.map(({ labels, value }) => {
          const kept: Record<string, string> = {};
          for (const l of keep) if (labels[l] !== undefined) kept[l] = labels[l];
          return { labels: seriesText('', kept), value: roundLikePrometheus(value) };
        }),
      });
    }

    done(): void {
      for (const s of this.series) {
        if (s.values.length !== this.minutes + 1) {
          throw new Error(`${this.name}: ${s.name} has ${s.values.length} values`);
        }
      }
      for (const t of [...this.alertTests, ...this.exprTests]) {
        if ((parseDuration(t.eval_time)! / 60_000) % this.step !== 0) {
          throw new Error(
            `${this.name}: eval_time ${t.eval_time} is not a multiple of ${this.step}m`,
          );
        }
      }
      (this.step === 1 ? tests : longTests).push({
        name: this.name,
        interval: `${this.step}m`,
        input_series: this.series.map((s) => ({
          series: seriesText(s.name, s.labels),
          values: compressValues(s.values.filter((_, i) => i % this.step === 0)),
        })),
        ...(this.alertTests.length > 0 ? { alert_rule_test: this.alertTests } : {}),
        ...(this.exprTests.length > 0 ? { promql_expr_test: this.exprTests } : {}),
      });
    }
  }

  const pipelineLabels = [...config.groupBy, LABEL_NAME];
  const poolLabels = [...config.groupBy, LABEL_POOL, LABEL_DB_SYSTEM];
  const one = scrapeLabels(config, 1);
  const two = scrapeLabels(config, 2);
  const outcome = (o: CallOutcome) => ({ [LABEL_OUTCOME]: o });

  // --- failure rate ---------------------------------------------------------------------------
  {
    const fr = config.failureRate;
    const w = toMinutes(fr.window);
    const warning = spec('failure-rate-warning');
    const critical = spec('failure-rate-critical');

    // Recording rules: calls per second and failure ratio, with a pipeline without failures
    // (ratio 0, not missing) and one without calls in the window (no ratio: no division by 0).
    const c = new Case('recording rules: calls per second and share of failed calls', w + 5);
    const perInstance = 600;
    const failed = 120; // 20%
    const inventory: { ok: number[]; retried: number[]; failed: number[] }[] = [];
    for (const instance of [one, two]) {
      const labels = { ...instance, [LABEL_NAME]: 'inventory' };
      inventory.push({
        ok: c.add(
          'callDuration',
          { ...labels, ...outcome('success') },
          counter(c.minutes, () => perInstance - failed - 60),
        ) as number[],
        retried: c.add(
          'callDuration',
          { ...labels, ...outcome('success_after_retry') },
          counter(c.minutes, () => 60),
        ) as number[],
        failed: c.add(
          'callDuration',
          { ...labels, ...outcome('failure') },
          counter(c.minutes, () => failed),
        ) as number[],
      });
    }
    const payments = c.add(
      'callDuration',
      { ...one, [LABEL_NAME]: 'payments', ...outcome('success') },
      counter(c.minutes, () => 300),
    );
    const reports = c.add(
      'callDuration',
      { ...one, [LABEL_NAME]: 'reports', ...outcome('success') },
      counter(c.minutes, (m) => (m <= 2 ? 60 : 0)),
    );
    const at = c.minutes;
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    const windows = [fr.window, config.retryAmplification.window].filter(
      (x, i, all) => all.indexOf(x) === i,
    );
    for (const window of windows) {
      const wm = toMinutes(window);
      if (wm > at) throw new Error('window longer than the recording test');
      const invTotal = sum(
        inventory.flatMap((s) => [s.ok, s.retried, s.failed].map((v) => rate(v, wm, at))),
      );
      c.expectExpr(
        rec.calls(window),
        at,
        [
          { labels: { ...one, [LABEL_NAME]: 'inventory' }, value: invTotal },
          { labels: { ...one, [LABEL_NAME]: 'payments' }, value: rate(payments, wm, at) },
          { labels: { ...one, [LABEL_NAME]: 'reports' }, value: rate(reports, wm, at) },
        ],
        pipelineLabels,
      );
    }
    const invFailed = sum(inventory.map((s) => rate(s.failed, w, at)));
    const invTotal = sum(
      inventory.flatMap((s) => [s.ok, s.retried, s.failed].map((v) => rate(v, w, at))),
    );
    c.expectExpr(
      rec.failureRatio(fr.window),
      at,
      [
        { labels: { ...one, [LABEL_NAME]: 'inventory' }, value: invFailed / invTotal },
        { labels: { ...one, [LABEL_NAME]: 'payments' }, value: 0 },
      ],
      pipelineLabels,
    );
    c.done();

    // Alerts: two instances, 600 calls a minute each; failures a multiple of 15 a minute, so
    // every rate is a multiple of 0.25/s and exact.
    const forMinutes = Math.max(toMinutes(fr.warningFor), toMinutes(fr.criticalFor));
    const length = w + forMinutes + 5;
    const scenario = (name: string, ratio: number, callsPerMinute = perInstance) => {
      const c = new Case(name, length);
      const f =
        callsPerMinute >= 600
          ? Math.min(callsPerMinute, roundTo(ratio * callsPerMinute, 15))
          : ratio * callsPerMinute;
      const rates: { failed: number; total: number } = { failed: 0, total: 0 };
      for (const instance of [one, two]) {
        const labels = { ...instance, [LABEL_NAME]: 'inventory' };
        const retried = Math.min(60, callsPerMinute - f);
        const ok = c.add(
          'callDuration',
          { ...labels, ...outcome('success') },
          counter(length, () => callsPerMinute - f - retried),
        );
        const re = c.add(
          'callDuration',
          { ...labels, ...outcome('success_after_retry') },
          counter(length, () => retried),
        );
        const fa = c.add(
          'callDuration',
          { ...labels, ...outcome('failure') },
          counter(length, () => f),
        );
        rates.failed += rate(fa, w, length);
        rates.total += rate(ok, w, length) + rate(re, w, length) + rate(fa, w, length);
      }
      return {
        c,
        value: rates.failed / rates.total,
        labels: { ...one, [LABEL_NAME]: 'inventory' },
      };
    };
    const check = (ok: boolean, what: string) => {
      if (!ok) throw new Error(`failure-rate test values: ${what}`);
    };

    const below = scenario(
      `${warning.name}, ${critical.name}: silent below ${fr.warning}`,
      fr.warning / 2,
    );
    check(below.value < fr.warning, 'below');
    below.c.expectAlert(warning, length, []);
    below.c.expectAlert(critical, length, []);
    below.c.done();

    const between = scenario(
      `${warning.name}: fires between ${fr.warning} and ${fr.critical}`,
      (fr.warning + fr.critical) / 2,
    );
    check(between.value > fr.warning && between.value <= fr.critical, 'between');
    between.c.expectAlert(warning, length, [{ labels: between.labels, value: between.value }]);
    between.c.expectAlert(critical, length, []);
    between.c.done();

    const above = scenario(`${critical.name}: fires above ${fr.critical}`, (fr.critical + 1) / 2);
    check(above.value > fr.critical, 'above');
    above.c.expectAlert(critical, length, [{ labels: above.labels, value: above.value }]);
    above.c.expectAlert(warning, length, [{ labels: above.labels, value: above.value }]);
    above.c.done();

    if (fr.minCalls > 0) {
      // Half the minimum, all failing, over the two instances.
      const perMinute = fr.minCalls / w / 4;
      const few = scenario(
        `${warning.name}, ${critical.name}: silent under ${fr.minCalls} calls in ${fr.window}`,
        1,
        perMinute,
      );
      few.c.expectAlert(warning, length, []);
      few.c.expectAlert(critical, length, []);
      few.c.done();
    }
  }

  // --- circuit breaker ------------------------------------------------------------------------
  {
    const cb = config.circuitBreakerOpen;
    const alert = spec('circuit-breaker-open');
    const f = toMinutes(cb.for);
    const opensAt = 5;
    const length = opensAt + f + 5;
    const states = ['closed', 'open', 'half_open', 'isolated'] as const;
    /** The state gauges of one breaker: `stateAt(m)` is its state in minute m. */
    const breaker = (c: Case, labels: Labels, stateAt: (m: number) => (typeof states)[number]) => {
      for (const s of states) {
        c.add(
          'circuitState',
          { ...labels, [LABEL_CIRCUIT_STATE]: s },
          gauge(length, (m) => (stateAt(m) === s ? 1 : 0)),
        );
      }
    };
    const [first, second] = [cb.states[0]!, cb.states[1] ?? cb.states[0]!];

    const silent = new Case(
      `${alert.name}: silent while closed, isolated by hand, or open for less than for: ${cb.for}`,
      length,
    );
    breaker(silent, { ...one, [LABEL_NAME]: 'inventory' }, () => 'closed');
    if (!cb.states.includes('isolated'))
      breaker(silent, { ...one, [LABEL_NAME]: 'reports' }, () => 'isolated');
    // Open for `for:` evaluations exactly: one more would fire.
    breaker(silent, { ...one, [LABEL_NAME]: 'payments' }, (m) =>
      m >= opensAt && m < opensAt + f ? first : 'closed',
    );
    silent.expectAlert(alert, opensAt + f - 1, []);
    silent.expectAlert(alert, length, []);
    silent.done();

    const firing = new Case(
      `${alert.name}: fires when a breaker stays ${cb.states.join(' or ')} (one of two instances; one breaker per host)`,
      length,
    );
    const inventory = { ...one, [LABEL_NAME]: 'inventory' };
    // A breaker whose trial calls keep failing: open, half_open, open, ... at each scrape.
    breaker(firing, inventory, (m) =>
      m < opensAt ? 'closed' : (m - opensAt) % 2 === 0 ? first : second,
    );
    breaker(firing, { ...two, [LABEL_NAME]: 'inventory' }, () => 'closed');
    const perHost: Record<string, string> = {};
    for (const l of cb.extraLabels)
      perHost[l] = l === 'server_address' ? 'stock.internal' : 'example';
    const upstream = { ...one, [LABEL_NAME]: 'upstream', ...perHost };
    breaker(firing, upstream, (m) => (m < opensAt ? 'closed' : first));
    breaker(
      firing,
      {
        ...one,
        [LABEL_NAME]: 'upstream',
        ...Object.fromEntries(cb.extraLabels.map((l) => [l, 'healthy.internal'])),
      },
      () => 'closed',
    );
    firing.expectAlert(alert, length, [
      { labels: inventory, value: 1 },
      { labels: upstream, value: 1 },
    ]);
    firing.done();
  }

  // --- connection pool ------------------------------------------------------------------------
  {
    const dp = config.dbPool;
    const nearly = spec('db-pool-nearly-exhausted');
    const timeouts = spec('db-pool-acquire-timeouts');
    const pool = { [LABEL_POOL]: 'orders-db', [LABEL_DB_SYSTEM]: 'postgresql' };
    const max = 100;
    const f = toMinutes(dp.usedRatioFor);
    const length = f + 5;
    const pools = (name: string, usedOnSecond: number) => {
      const c = new Case(name, length);
      for (const [instance, used] of [
        [one, 50],
        [two, usedOnSecond],
      ] as const) {
        const labels = { ...instance, ...pool };
        c.add(
          'dbConnectionCount',
          { ...labels, [LABEL_POOL_STATE]: 'used' },
          gauge(length, () => used),
        );
        c.add(
          'dbConnectionCount',
          { ...labels, [LABEL_POOL_STATE]: 'idle' },
          gauge(length, () => max - used),
        );
        c.add(
          'dbConnectionMax',
          labels,
          gauge(length, () => max),
        );
      }
      return c;
    };
    const belowUsed = Math.ceil(dp.usedRatio * max) - 1;
    const silent = pools(
      `${nearly.name}: silent below ${dp.usedRatio} of max on every instance; recording rule`,
      belowUsed,
    );
    // A pool reporting max 0 is left out instead of dividing by zero.
    const broken = { ...one, [LABEL_POOL]: 'broken-db', [LABEL_DB_SYSTEM]: 'mysql' };
    silent.add(
      'dbConnectionCount',
      { ...broken, [LABEL_POOL_STATE]: 'used' },
      gauge(length, () => 0),
    );
    silent.add(
      'dbConnectionMax',
      broken,
      gauge(length, () => 0),
    );
    silent.expectAlert(nearly, length, []);
    silent.expectExpr(
      rec.poolUsed,
      length,
      [{ labels: { ...one, ...pool }, value: Math.max(50, belowUsed) / max }],
      poolLabels,
    );
    silent.done();

    const firing = pools(`${nearly.name}: fires when one instance's pool is full`, max);
    firing.expectAlert(nearly, length, [{ labels: { ...one, ...pool }, value: 1 }]);
    firing.done();

    const pw = toMinutes(dp.acquireTimeoutsWindow);
    const tLength = pw + toMinutes(dp.acquireTimeoutsFor) + 5;
    const timeoutCase = (name: string, perMinute: number, start: number) => {
      const c = new Case(name, tLength);
      let total = 0;
      for (const instance of [one, two]) {
        const values = counter(tLength, () => perMinute).map((v) => v + start);
        c.add('dbConnectionTimeouts', { ...instance, ...pool }, values);
        total += rate(values, pw, tLength);
      }
      return { c, total };
    };
    // Below: timeouts counted before the window (or a trickle under the threshold).
    // Per instance, a multiple of 15 a minute (exact rates), or old timeouts only.
    const below = timeoutCase(
      `${timeouts.name}: silent at or below ${dp.acquireTimeoutsPerSecond}/s; recording rule`,
      Math.floor((dp.acquireTimeoutsPerSecond * 60) / 2 / 15) * 15,
      3,
    );
    below.c.expectAlert(timeouts, tLength, []);
    below.c.expectExpr(
      rec.poolTimeouts(dp.acquireTimeoutsWindow),
      tLength,
      [{ labels: { ...one, ...pool }, value: below.total }],
      poolLabels,
    );
    below.c.done();
    const above = timeoutCase(
      `${timeouts.name}: fires above ${dp.acquireTimeoutsPerSecond}/s`,
      ceilTo(dp.acquireTimeoutsPerSecond * 60 + 1, 15),
      0,
    );
    above.c.expectAlert(timeouts, tLength, [{ labels: { ...one, ...pool }, value: above.total }]);
    above.c.done();
  }

  // --- retry amplification --------------------------------------------------------------------
  {
    const amp = config.retryAmplification;
    const alert = spec('retry-amplification-high');
    const w = toMinutes(amp.window);
    const length = w + toMinutes(amp.for) + 5;
    const scenario = (name: string, attemptsPerCall: number, callsPerMinute = 600) => {
      const c = new Case(name, length);
      let attempts = 0;
      let total = 0;
      const a =
        callsPerMinute >= 600
          ? roundTo(attemptsPerCall * callsPerMinute, 15)
          : attemptsPerCall * callsPerMinute;
      for (const instance of [one, two]) {
        const labels = { ...instance, [LABEL_NAME]: 'inventory', ...outcome('success') };
        total += rate(
          c.add(
            'callDuration',
            labels,
            counter(length, () => callsPerMinute),
          ),
          w,
          length,
        );
        attempts += rate(
          c.add(
            'attemptDuration',
            labels,
            counter(length, () => a),
          ),
          w,
          length,
        );
      }
      return { c, value: attempts / total, labels: { ...one, [LABEL_NAME]: 'inventory' } };
    };
    const below = scenario(
      `${alert.name}: silent below ${amp.attemptsPerCall} attempts per call; recording rule`,
      (1 + amp.attemptsPerCall) / 2,
    );
    if (!(below.value <= amp.attemptsPerCall)) throw new Error('amplification below');
    // A pipeline without calls in the window has no ratio (no division by zero).
    const idle = { ...one, [LABEL_NAME]: 'reports', ...outcome('success') };
    below.c.add(
      'callDuration',
      idle,
      counter(length, (m) => (m <= 2 ? 60 : 0)),
    );
    below.c.add(
      'attemptDuration',
      idle,
      counter(length, (m) => (m <= 2 ? 60 : 0)),
    );
    below.c.expectAlert(alert, length, []);
    below.c.expectExpr(
      rec.attemptsPerCall(amp.window),
      length,
      [{ labels: below.labels, value: below.value }],
      pipelineLabels,
    );
    below.c.done();

    const above = scenario(
      `${alert.name}: fires above ${amp.attemptsPerCall} attempts per call`,
      amp.attemptsPerCall + 0.5,
    );
    if (!(above.value > amp.attemptsPerCall)) throw new Error('amplification above');
    above.c.expectAlert(alert, length, [{ labels: above.labels, value: above.value }]);
    above.c.done();

    if (amp.minCalls > 0) {
      const few = scenario(
        `${alert.name}: silent under ${amp.minCalls} calls in ${amp.window}`,
        amp.attemptsPerCall + 1,
        amp.minCalls / w / 4,
      );
      few.c.expectAlert(alert, length, []);
      few.c.done();
    }
  }

  // --- retry budget ---------------------------------------------------------------------------
  {
    const rb = config.retryBudget;
    const alert = spec('retry-budget-exhausted');
    const f = toMinutes(rb.for);
    const dropsAt = 5;
    const length = dropsAt + f + 5;
    const tokens = (c: Case, instance: Labels, name: string, at: (m: number) => number) =>
      c.add('retryBudgetTokens', { ...instance, [LABEL_NAME]: name }, gauge(length, at));
    const low = Math.max(0, Math.ceil(rb.minTokens) - 1);

    const silent = new Case(
      `${alert.name}: silent at or above ${rb.minTokens} token(s), or empty for less than for: ${rb.for}`,
      length,
    );
    tokens(silent, one, 'inventory', () => 100);
    tokens(silent, two, 'inventory', () => Math.ceil(rb.minTokens));
    tokens(silent, one, 'search', (m) => (m >= dropsAt && m < dropsAt + f ? low : 100));
    silent.expectAlert(alert, dropsAt + f - 1, []);
    silent.expectAlert(alert, length, []);
    silent.done();

    const firing = new Case(`${alert.name}: fires when one instance's budget stays empty`, length);
    tokens(firing, one, 'inventory', () => 100);
    tokens(firing, two, 'inventory', (m) => (m >= dropsAt ? low : 100));
    firing.expectAlert(alert, length, [
      { labels: { ...one, [LABEL_NAME]: 'inventory' }, value: low },
    ]);
    firing.done();
  }

  // --- error budget ---------------------------------------------------------------------------
  {
    const eb = config.errorBudget;
    const budget = 1 - eb.sloTarget;
    // 6000 calls a minute, failures a multiple of 15: every rate a multiple of 0.25/s, exact.
    const callsPerMinute = 6000;
    const stepFor = (length: number) => (length > LONG_TEST_MINUTES ? LONG_STEP_MINUTES : 1);
    /** One pipeline failing at about `burn` times the budget for the whole test. */
    const burning = (name: (burnRate: number) => string, burn: number, length: number) => {
      const failures = Math.min(callsPerMinute, roundTo(burn * budget * callsPerMinute, 15));
      const burnRate = failures / callsPerMinute / budget;
      const step = stepFor(length);
      const c = new Case(name(burnRate), ceilTo(length, step), step);
      const labels = { ...one, [LABEL_NAME]: 'inventory' };
      const ok = c.add(
        'callDuration',
        { ...labels, ...outcome('success') },
        counter(c.minutes, () => callsPerMinute - failures),
      );
      const failed = c.add(
        'callDuration',
        { ...labels, ...outcome('failure') },
        counter(c.minutes, () => failures),
      );
      const ratio = (window: number) => {
        const f = rate(failed, window, c.minutes);
        return f / (f + rate(ok, window, c.minutes));
      };
      return { c, labels, ratio, burnRate };
    };
    const rounded = (x: number) => Number(x.toFixed(2));

    for (const [kind, id] of [
      ['page', 'error-budget-fast-burn'],
      ['ticket', 'error-budget-slow-burn'],
    ] as const) {
      const alert = spec(id);
      const cfg = eb[kind];
      const f = toMinutes(cfg.for);
      for (const w of cfg.windows) {
        const s = burning(
          (b) =>
            `${alert.name}: fires at ${rounded(b)}x over ${w.long} and ${w.short} (threshold ${w.factor}x)`,
          w.factor * 1.5,
          toMinutes(w.long) + f + 5,
        );
        if (!(s.burnRate > w.factor))
          throw new Error(`${alert.name}: burn ${s.burnRate} ≤ ${w.factor}`);
        s.c.expectAlert(alert, s.c.minutes, [
          { labels: s.labels, value: s.ratio(toMinutes(w.long)) / budget },
        ]);
        s.c.done();
      }
      const minFactor = Math.min(...cfg.windows.map((w) => w.factor));
      const longest = Math.max(...cfg.windows.map((w) => toMinutes(w.long)));
      const s = burning(
        (b) =>
          `${alert.name}: silent at ${rounded(b)}x (below ${minFactor}x) sustained over ${formatMinutes(longest)}`,
        minFactor / 2,
        longest + f + 5,
      );
      if (!(s.burnRate < minFactor))
        throw new Error(`${alert.name}: burn ${s.burnRate} ≥ ${minFactor}`);
      s.c.expectAlert(alert, s.c.minutes, []);
      s.c.done();
    }

    // Recording rules: failures stepping up towards the end of the test (15 a minute more in
    // each shorter trailing window), so every window has its own ratio.
    const windows = [
      config.failureRate.window,
      ...eb.page.windows.flatMap((w) => [w.short, w.long]),
      ...eb.ticket.windows.flatMap((w) => [w.short, w.long]),
    ]
      .filter((x, i, all) => all.indexOf(x) === i)
      .sort((a, b) => toMinutes(a) - toMinutes(b));
    for (const long of [false, true]) {
      const mine = windows.filter((w) => toMinutes(w) + 5 > LONG_TEST_MINUTES === long);
      if (mine.length === 0) continue;
      const step = long ? LONG_STEP_MINUTES : 1;
      for (const w of mine) {
        if (toMinutes(w) % step !== 0) {
          throw new Error(`unit tests need windows over 12h in multiples of ${step}m, got ${w}`);
        }
      }
      const length = ceilTo(Math.max(...mine.map(toMinutes)) + 5, step);
      const c = new Case(
        `recording rules: share of failed calls over ${mine.join(', ')}`,
        length,
        step,
      );
      const labels = { ...one, [LABEL_NAME]: 'inventory' };
      const failures = (m: number) => 15 * mine.filter((w) => m > length - toMinutes(w)).length;
      const ok = c.add(
        'callDuration',
        { ...labels, ...outcome('success') },
        counter(length, (m) => callsPerMinute - failures(m)),
      );
      const failed = c.add(
        'callDuration',
        { ...labels, ...outcome('failure') },
        counter(length, failures),
      );
      for (const w of mine) {
        const fr = rate(failed, toMinutes(w), length);
        c.expectExpr(
          rec.failureRatio(w),
          length,
          [{ labels, value: fr / (fr + rate(ok, toMinutes(w), length)) }],
          pipelineLabels,
        );
      }
      c.done();
    }
  }

  return {
    main: { rule_files: [ruleFile], evaluation_interval: '1m', tests },
    long: {
      rule_files: [ruleFile],
      evaluation_interval: `${LONG_STEP_MINUTES}m`,
      tests: longTests,
    },
  };
}
