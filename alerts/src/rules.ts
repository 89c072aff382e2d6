import {
  ATTR_CIRCUIT_STATE,
  ATTR_DB_CLIENT_CONNECTION_POOL_NAME,
  ATTR_DB_CLIENT_CONNECTION_STATE,
  ATTR_DB_SYSTEM_NAME,
  ATTR_RESILIENCE_NAME,
  ATTR_RESILIENCE_OUTCOME,
  type CallOutcome,
  type DbConnectionState,
  type MetricKey,
  prometheusLabel,
  prometheusNames,
} from 'otel-resilience';
import { type AlertsConfig, type BurnRateWindow, formatPercent, parseDuration } from './config.js';

// ---------------------------------------------------------------------------------------------
// Labels: every one from the engine's attribute constants.

/** `resilience_name`: the policy or pipeline name. */
export const LABEL_NAME = prometheusLabel(ATTR_RESILIENCE_NAME);
/** `resilience_outcome`. */
export const LABEL_OUTCOME = prometheusLabel(ATTR_RESILIENCE_OUTCOME);
/** `resilience_circuit_breaker_state`. */
export const LABEL_CIRCUIT_STATE = prometheusLabel(ATTR_CIRCUIT_STATE);
/** `db_client_connection_pool_name`. */
export const LABEL_POOL = prometheusLabel(ATTR_DB_CLIENT_CONNECTION_POOL_NAME);
/** `db_client_connection_state`. */
export const LABEL_POOL_STATE = prometheusLabel(ATTR_DB_CLIENT_CONNECTION_STATE);
/** `db_system_name`. */
export const LABEL_DB_SYSTEM = prometheusLabel(ATTR_DB_SYSTEM_NAME);

const FAILURE: CallOutcome = 'failure';
const USED: DbConnectionState = 'used';

// ---------------------------------------------------------------------------------------------
// Annotation templates, written once and rendered two ways: as Prometheus templates for the rule
// files, and with concrete values for the expected annotations of the promtool unit tests.

/** How an annotation shows `$value`. */
export type ValueFormat = 'percentage' | 'plain' | 'fixed1' | 'fixed2' | 'sig3';

/** What an annotation template may refer to. */
export interface TemplateContext {
  /** A label of the alert. */
  label(name: string): string;
  /** The alert's value, formatted. */
  value(format: ValueFormat): string;
  /** `render(value)` when the alert has label `name` (non-empty), else nothing. */
  ifLabel(name: string, render: (value: string) => string): string;
}

const VALUE_TEMPLATES: Readonly<Record<ValueFormat, string>> = {
  percentage: '{{ $value | humanizePercentage }}',
  plain: '{{ $value }}',
  fixed1: '{{ $value | printf "%.1f" }}',
  fixed2: '{{ $value | printf "%.2f" }}',
  sig3: '{{ $value | printf "%.3g" }}',
};

/** Renders annotations as Prometheus templates. */
export const PROMETHEUS_TEMPLATE: TemplateContext = {
  label: (name) => `{{ $labels.${name} }}`,
  value: (format) => VALUE_TEMPLATES[format],
  ifLabel: (name, render) => `{{ with $labels.${name} }}${render('{{ . }}')}{{ end }}`,
};

// ---------------------------------------------------------------------------------------------
// Rule shapes (what Prometheus reads) and the specs they are built from.

export interface RecordingRule {
  readonly record: string;
  readonly expr: string;
}

export interface AlertingRule {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly labels: { readonly severity: Severity };
  readonly annotations: {
    readonly summary: string;
    readonly description: string;
    readonly runbook_url: string;
  };
}

export interface RuleGroup {
  readonly name: string;
  readonly rules: readonly (RecordingRule | AlertingRule)[];
}

/** A Prometheus rule file. */
export interface RuleFile {
  readonly groups: readonly RuleGroup[];
}

export type Severity = 'warning' | 'critical';

/** A recording rule and what it means (for the README). */
export interface RecordingSpec extends RecordingRule {
  readonly meaning: string;
  /** Labels of its series. */
  readonly labels: readonly string[];
}

/** One alert: its rule, plus what the README, the runbook and the unit tests need to know. */
export interface AlertSpec {
  /** Stable, prefix-independent id; also the runbook anchor. */
  readonly id: string;
  readonly name: string;
  readonly severity: Severity;
  readonly expr: string;
  readonly for: string;
  /** Labels the expression keeps (besides `severity`), in order. */
  readonly labels: readonly string[];
  readonly summary: (t: TemplateContext) => string;
  readonly description: (t: TemplateContext) => string;
  /** How the value is shown in the description (the unit tests render it). */
  readonly valueFormat: ValueFormat;
  /** README: what the expression measures. */
  readonly meaning: string;
  /** README: the threshold, in words. */
  readonly threshold: string;
  readonly runbookUrl: string;
}

/** The rule files' content, and the specs behind it. */
export interface BuiltRules {
  readonly recordings: readonly RecordingSpec[];
  readonly alerts: readonly AlertSpec[];
  readonly file: RuleFile;
}

/** snake_case of the prefix: the first segment of every recording rule name. */
export function recordingNamespace(prefix: string): string {
  return prefix.replace(/(?<=[a-z0-9])([A-Z])/g, '_$1').toLowerCase();
}

/** The recording rule names, shared by the rules and the unit tests. */
export function recordingNames(config: AlertsConfig) {
  const ns = recordingNamespace(config.prefix);
  return {
    calls: (window: string) => `${ns}:calls:rate${window}`,
    failureRatio: (window: string) => `${ns}:call_failures:ratio_rate${window}`,
    attemptsPerCall: (window: string) => `${ns}:attempts_per_call:ratio_rate${window}`,
    poolUsed: `${ns}:db_pool_used:ratio_max`,
    poolTimeouts: (window: string) => `${ns}:db_pool_acquire_timeouts:rate${window}`,
  };
}

/** The Prometheus names of catalogue instrument `key` under the config's naming scheme. */
function names(config: AlertsConfig, key: MetricKey) {
  return prometheusNames(key, config.naming);
}

function histogramCount(config: AlertsConfig, key: MetricKey): string {
  const count = names(config, key).count;
  if (count === undefined) throw new Error(`${key} is not a histogram in the catalogue`);
  return count;
}

/** `metric{<config selector>, <matchers>}`. */
function select(config: AlertsConfig, metric: string, matchers: readonly string[] = []): string {
  const all = [config.selector.trim(), ...matchers].filter((m) => m !== '');
  return all.length === 0 ? metric : `${metric}{${all.join(', ')}}`;
}

const by = (labels: readonly string[]) => `by (${labels.join(', ')})`;

/** Orders Prometheus durations by length. */
function byDuration(a: string, b: string): number {
  return parseDuration(a)! - parseDuration(b)!;
}

function minutes(window: string): number {
  return parseDuration(window)! / 60_000;
}

function indent(text: string, spaces = 2): string {
  const pad = ' '.repeat(spaces);
  return text
    .split('\n')
    .map((line) => (line === '' ? line : pad + line))
    .join('\n');
}

const num = (n: number) => String(n);

/** Builds every recording and alerting rule from `config`. */
export function buildRules(config: AlertsConfig): BuiltRules {
  const ns = recordingNamespace(config.prefix);
  const rec = recordingNames(config);
  const pipeline = [...config.groupBy, LABEL_NAME];
  const pool = [...config.groupBy, LABEL_POOL, LABEL_DB_SYSTEM];
  const calls = histogramCount(config, 'callDuration');
  const attempts = histogramCount(config, 'attemptDuration');
  /** ` (first…, job <job>)`: what identifies the alert besides its name. */
  const where = (t: TemplateContext, ...first: string[]) => {
    const parts = [...first, ...config.groupBy.map((l) => `${l} ${t.label(l)}`)];
    return parts.length === 0 ? '' : ` (${parts.join(', ')})`;
  };
  const runbook = (id: string) => `${config.runbookUrl}#${id}`;

  // --- recording rules ------------------------------------------------------------------------
  const recordings: RecordingSpec[] = [];
  const recorded = new Set<string>();
  const record = (spec: RecordingSpec) => {
    if (recorded.has(spec.record)) return;
    recorded.add(spec.record);
    recordings.push(spec);
  };
  const callRate = (window: string, matchers: string[] = []) =>
    `sum ${by(pipeline)} (rate(${select(config, calls, matchers)}[${window}]))`;

  const callRateWindows = [config.failureRate.window, config.retryAmplification.window]
    .filter((w, i, all) => all.indexOf(w) === i)
    .sort(byDuration);
  for (const window of callRateWindows) {
    record({
      record: rec.calls(window),
      expr: callRate(window),
      labels: pipeline,
      meaning: `calls per second through each pipeline over ${window}`,
    });
  }
  const burnWindows = [...config.errorBudget.page.windows, ...config.errorBudget.ticket.windows];
  const failureWindows = [
    config.failureRate.window,
    ...burnWindows.flatMap((w: BurnRateWindow) => [w.short, w.long]),
  ]
    .filter((w, i, all) => all.indexOf(w) === i)
    .sort(byDuration);
  for (const window of failureWindows) {
    record({
      record: rec.failureRatio(window),
      // `or 0 * …` gives 0 (not no data) for a pipeline without failures; `> 0` leaves out
      // pipelines without calls in the window instead of dividing by zero.
      expr: [
        '(',
        indent(callRate(window, [`${LABEL_OUTCOME}="${FAILURE}"`])),
        '  or',
        indent(`0 * ${callRate(window)}`),
        ')',
        '/',
        `(${callRate(window)} > 0)`,
      ].join('\n'),
      labels: pipeline,
      meaning: `share of calls that failed over ${window} (no series without calls)`,
    });
  }
  const ampWindow = config.retryAmplification.window;
  record({
    record: rec.attemptsPerCall(ampWindow),
    expr: [
      `sum ${by(pipeline)} (rate(${select(config, attempts)}[${ampWindow}]))`,
      '/',
      `(${callRate(ampWindow)} > 0)`,
    ].join('\n'),
    labels: pipeline,
    meaning: `attempts per call over ${ampWindow} (1 = no retries)`,
  });
  const perInstance = [...pool, 'instance'];
  record({
    record: rec.poolUsed,
    // A pool belongs to one process: the ratio is taken per instance, then the fullest kept.
    expr: [
      `max ${by(pool)} (`,
      indent(
        `sum ${by(perInstance)} (${select(config, names(config, 'dbConnectionCount').name, [`${LABEL_POOL_STATE}="${USED}"`])})`,
      ),
      '  /',
      indent(
        `(sum ${by(perInstance)} (${select(config, names(config, 'dbConnectionMax').name)}) > 0)`,
      ),
      ')',
    ].join('\n'),
    labels: pool,
    meaning: 'share of the pool in use on the fullest instance (used / max)',
  });
  const poolWindow = config.dbPool.acquireTimeoutsWindow;
  record({
    record: rec.poolTimeouts(poolWindow),
    expr: `sum ${by(pool)} (rate(${select(config, names(config, 'dbConnectionTimeouts').name)}[${poolWindow}]))`,
    labels: pool,
    meaning: `connection requests that timed out waiting for the pool, per second over ${poolWindow}`,
  });

  // --- alerts -----------------------------------------------------------------------------------
  const alerts: AlertSpec[] = [];
  const alert = (spec: Omit<AlertSpec, 'name' | 'runbookUrl'> & { suffix: string }) => {
    const { suffix, ...rest } = spec;
    alerts.push({ ...rest, name: `${config.prefix}${suffix}`, runbookUrl: runbook(spec.id) });
  };

  const fr = config.failureRate;
  const trafficGuard = (window: string, min: number) =>
    min > 0 ? `\nand\n${rec.calls(window)} * ${minutes(window) * 60} >= ${num(min)}` : '';
  const frGuardText =
    fr.minCalls > 0 ? `, with at least ${num(fr.minCalls)} calls in ${fr.window}` : '';
  for (const level of ['warning', 'critical'] as const) {
    const threshold = fr[level];
    alert({
      id: `failure-rate-${level}`,
      suffix: `FailureRate${level === 'warning' ? 'Warning' : 'Critical'}`,
      severity: level,
      expr: `${rec.failureRatio(fr.window)} > ${num(threshold)}${trafficGuard(fr.window, fr.minCalls)}`,
      for: level === 'warning' ? fr.warningFor : fr.criticalFor,
      labels: pipeline,
      valueFormat: 'percentage',
      summary: (t) =>
        `More than ${formatPercent(threshold)} of the calls through ${t.label(LABEL_NAME)} fail`,
      description: (t) =>
        `${t.value('percentage')} of the calls through ${t.label(LABEL_NAME)}${where(t)} failed over the last ${fr.window} (${level} above ${formatPercent(threshold)}${level === 'warning' ? `, critical above ${formatPercent(fr.critical)}` : ''}).`,
      meaning: `share of calls through a pipeline that failed (\`resilience_outcome="failure"\`) over ${fr.window}${frGuardText}`,
      threshold: `> ${formatPercent(threshold)}`,
    });
  }

  const cb = config.circuitBreakerOpen;
  const stateMatcher =
    cb.states.length === 1
      ? `${LABEL_CIRCUIT_STATE}="${cb.states[0]}"`
      : `${LABEL_CIRCUIT_STATE}=~"${cb.states.join('|')}"`;
  const breakerLabels = [...pipeline, ...cb.extraLabels.filter((l) => !pipeline.includes(l))];
  alert({
    id: 'circuit-breaker-open',
    suffix: 'CircuitBreakerOpen',
    severity: 'critical',
    expr: `sum ${by(breakerLabels)} (${select(config, names(config, 'circuitState').name, [stateMatcher])}) > 0`,
    for: cb.for,
    labels: breakerLabels,
    valueFormat: 'plain',
    summary: (t) => `Circuit breaker ${t.label(LABEL_NAME)} is open`,
    description: (t) =>
      `${t.value('plain')} circuit breaker(s) named ${t.label(LABEL_NAME)}${where(t)}${cb.extraLabels
        .map((l) => t.ifLabel(l, (v) => ` for ${l} ${v}`))
        .join(
          '',
        )} have been ${cb.states.join(' or ')} for at least ${cb.for}: calls to the dependency are refused without being tried.`,
    meaning: `breakers in state ${cb.states.join(' or ')} (\`resilience_circuit_breaker_state\` gauge), summed over instances`,
    threshold: '> 0',
  });

  const dp = config.dbPool;
  alert({
    id: 'db-pool-nearly-exhausted',
    suffix: 'DbPoolNearlyExhausted',
    severity: 'warning',
    expr: `${rec.poolUsed} >= ${num(dp.usedRatio)}`,
    for: dp.usedRatioFor,
    labels: pool,
    valueFormat: 'percentage',
    summary: (t) => `Connection pool ${t.label(LABEL_POOL)} is nearly exhausted`,
    description: (t) =>
      `${t.value('percentage')} of the connections of pool ${t.label(LABEL_POOL)}${where(t, t.label(LABEL_DB_SYSTEM))} are in use on its fullest instance (warning at ${formatPercent(dp.usedRatio)}); new queries will soon wait for a connection.`,
    meaning: 'connections in use / pool maximum on the fullest instance',
    threshold: `≥ ${formatPercent(dp.usedRatio)}`,
  });
  alert({
    id: 'db-pool-acquire-timeouts',
    suffix: 'DbPoolAcquireTimeouts',
    severity: 'critical',
    expr: `${rec.poolTimeouts(poolWindow)} > ${num(dp.acquireTimeoutsPerSecond)}`,
    for: dp.acquireTimeoutsFor,
    labels: pool,
    valueFormat: 'sig3',
    summary: (t) => `Connection pool ${t.label(LABEL_POOL)} is exhausted: requests time out`,
    description: (t) =>
      `${t.value('sig3')} requests per second for a connection of pool ${t.label(LABEL_POOL)}${where(t, t.label(LABEL_DB_SYSTEM))} timed out over the last ${poolWindow}: the pool is exhausted and queries fail.`,
    meaning: `connection requests that timed out waiting for the pool (\`db_client_connection_timeouts\`), per second over ${poolWindow}`,
    threshold: `> ${num(dp.acquireTimeoutsPerSecond)}/s`,
  });

  const amp = config.retryAmplification;
  const ampGuardText =
    amp.minCalls > 0 ? `, with at least ${num(amp.minCalls)} calls in ${amp.window}` : '';
  alert({
    id: 'retry-amplification-high',
    suffix: 'RetryAmplificationHigh',
    severity: 'warning',
    expr: `${rec.attemptsPerCall(amp.window)} > ${num(amp.attemptsPerCall)}${trafficGuard(amp.window, amp.minCalls)}`,
    for: amp.for,
    labels: pipeline,
    valueFormat: 'fixed2',
    summary: (t) =>
      `Retries multiply the calls through ${t.label(LABEL_NAME)} by more than ${num(amp.attemptsPerCall)}`,
    description: (t) =>
      `Calls through ${t.label(LABEL_NAME)}${where(t)} made ${t.value('fixed2')} attempts each on average over the last ${amp.window} (warning above ${num(amp.attemptsPerCall)}): retries are adding load to a dependency that is already failing.`,
    meaning: `attempts per call over ${amp.window}${ampGuardText}`,
    threshold: `> ${num(amp.attemptsPerCall)}`,
  });

  const rb = config.retryBudget;
  alert({
    id: 'retry-budget-exhausted',
    suffix: 'RetryBudgetExhausted',
    severity: 'warning',
    expr: `min ${by(pipeline)} (${select(config, names(config, 'retryBudgetTokens').name)}) < ${num(rb.minTokens)}`,
    for: rb.for,
    labels: pipeline,
    valueFormat: 'plain',
    summary: (t) => `Retry budget ${t.label(LABEL_NAME)} is exhausted`,
    description: (t) =>
      `Retry budget ${t.label(LABEL_NAME)}${where(t)} has had fewer than ${num(rb.minTokens)} token(s) on at least one instance for ${rb.for} (now ${t.value('plain')}): retries are refused and transient failures reach the callers.`,
    meaning: 'tokens left in a retry budget, on its emptiest instance',
    threshold: `< ${num(rb.minTokens)}`,
  });

  const eb = config.errorBudget;
  const budget = `(1 - ${num(eb.sloTarget)})`;
  const burnExpr = (windows: readonly BurnRateWindow[]) =>
    windows
      .map((w) =>
        [
          '(',
          `  ${rec.failureRatio(w.long)} / ${budget} > ${num(w.factor)}`,
          '  and',
          `  ${rec.failureRatio(w.short)} / ${budget} > ${num(w.factor)}`,
          ')',
        ].join('\n'),
      )
      .join('\nor\n');
  const windowsText = (windows: readonly BurnRateWindow[]) =>
    windows.map((w) => `${num(w.factor)}× over ${w.long} and ${w.short}`).join(', or ');
  for (const [kind, severity, suffix] of [
    ['page', 'critical', 'ErrorBudgetFastBurn'],
    ['ticket', 'warning', 'ErrorBudgetSlowBurn'],
  ] as const) {
    const cfg = eb[kind];
    alert({
      id: `error-budget-${kind === 'page' ? 'fast' : 'slow'}-burn`,
      suffix,
      severity,
      expr: burnExpr(cfg.windows),
      for: cfg.for,
      labels: pipeline,
      valueFormat: 'fixed1',
      summary: (t) =>
        `${t.label(LABEL_NAME)} is burning its ${formatPercent(eb.sloTarget)} SLO error budget ${kind === 'page' ? 'fast' : 'steadily'}`,
      description: (t) =>
        `Calls through ${t.label(LABEL_NAME)}${where(t)} fail ${t.value('fixed1')} times as often as a ${formatPercent(eb.sloTarget)} success SLO allows (alert at ${windowsText(cfg.windows)}).`,
      meaning: `error-budget burn rate of a ${formatPercent(eb.sloTarget)} call-success SLO, multiwindow: ${windowsText(cfg.windows)}`,
      threshold: cfg.windows.map((w) => `${num(w.factor)}×`).join(' / '),
    });
  }

  const rules: AlertingRule[] = alerts.map((a) => ({
    alert: a.name,
    expr: a.expr,
    for: a.for,
    labels: { severity: a.severity },
    annotations: {
      summary: a.summary(PROMETHEUS_TEMPLATE),
      description: a.description(PROMETHEUS_TEMPLATE),
      runbook_url: a.runbookUrl,
    },
  }));
  const group = ns.replace(/_/g, '-');
  return {
    recordings,
    alerts,
    file: {
      groups: [
        {
          name: `${group}.recording`,
          rules: recordings.map(({ record, expr }) => ({ record, expr })),
        },
        { name: `${group}.alerts`, rules },
      ],
    },
  };
}
