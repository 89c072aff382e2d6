import { METRICS, type MetricKey, PROMETHEUS_NAMINGS, prometheusNames } from 'otel-resilience';
import { describe, expect, it } from 'vitest';
import { defineAlertsConfig, parseDuration } from './config.js';
import { type AlertingRule, buildRules, type RecordingRule, recordingNamespace } from './rules.js';

const keys = Object.keys(METRICS) as MetricKey[];

/** Every Prometheus series name of the catalogue under `naming`. */
function seriesNames(naming: (typeof PROMETHEUS_NAMINGS)[number]): Set<string> {
  const names = new Set<string>();
  for (const key of keys) {
    const n = prometheusNames(key, naming);
    for (const name of [n.name, n.bucket, n.sum, n.count]) if (name) names.add(name);
  }
  return names;
}

describe.each(PROMETHEUS_NAMINGS)('rules, %s naming', (naming) => {
  const config = defineAlertsConfig({ naming });
  const built = buildRules(config);
  const alerts = built.file.groups
    .flatMap((g) => g.rules)
    .filter((r): r is AlertingRule => 'alert' in r);
  const recordings = built.file.groups
    .flatMap((g) => g.rules)
    .filter((r): r is RecordingRule => 'record' in r);

  it('has the alerts DESIGN.md asks for', () => {
    expect(alerts.map((a) => a.alert)).toEqual([
      'ResilienceFailureRateWarning',
      'ResilienceFailureRateCritical',
      'ResilienceCircuitBreakerOpen',
      'ResilienceDbPoolNearlyExhausted',
      'ResilienceDbPoolAcquireTimeouts',
      'ResilienceRetryAmplificationHigh',
      'ResilienceRetryBudgetExhausted',
      'ResilienceErrorBudgetFastBurn',
      'ResilienceErrorBudgetSlowBurn',
    ]);
  });

  it.each(alerts.map((a) => [a.alert, a] as const))(
    '%s: CamelCase name with the prefix, severity, summary, templated description, for:, runbook_url',
    (_, alert) => {
      expect(alert.alert).toMatch(/^Resilience([A-Z][a-z0-9]*)+$/);
      expect(['warning', 'critical']).toContain(alert.labels.severity);
      expect(alert.annotations.summary.length).toBeGreaterThan(10);
      expect(alert.annotations.description).toMatch(/\{\{ \$value( \| [^}]+)? \}\}/);
      expect(alert.annotations.description).toMatch(
        /\{\{ \$labels\.(resilience_name|db_client_connection_pool_name) \}\}/,
      );
      expect(alert.annotations.description).toContain('{{ $labels.job }}');
      expect(parseDuration(alert.for)).toBeGreaterThan(0);
      expect(alert.annotations.runbook_url).toMatch(
        new RegExp(`^${config.runbookUrl.replace(/[.]/g, '\\.')}#[a-z-]+$`),
      );
    },
  );

  it('describes ratios as percentages', () => {
    const byName = new Map(alerts.map((a) => [a.alert, a]));
    for (const name of [
      'ResilienceFailureRateWarning',
      'ResilienceFailureRateCritical',
      'ResilienceDbPoolNearlyExhausted',
    ]) {
      expect(byName.get(name)?.annotations.description).toContain(
        '{{ $value | humanizePercentage }}',
      );
    }
  });

  it('takes every metric name from prometheusNames()', () => {
    // With a selector every metric selector has braces, so metric names are easy to find.
    const selected = buildRules(defineAlertsConfig({ naming, selector: 'namespace="prod"' }));
    const known = seriesNames(naming);
    const used = new Set<string>();
    for (const rule of selected.file.groups.flatMap((g) => g.rules)) {
      for (const [, name] of rule.expr.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\{/g)) used.add(name!);
      // …and each of them carries the selector.
      for (const [, matchers] of rule.expr.matchAll(/[a-zA-Z0-9_]\{([^}]*)\}/g)) {
        expect(matchers).toMatch(/^namespace="prod"/);
      }
    }
    expect(used.size).toBeGreaterThan(5);
    for (const name of used) expect(known, name).toContain(name);
    const expected = (key: MetricKey) => prometheusNames(key, naming);
    expect(used).toContain(expected('callDuration').count);
    expect(used).toContain(expected('attemptDuration').count);
    expect(used).toContain(expected('circuitState').name);
    expect(used).toContain(expected('dbConnectionTimeouts').name);
  });

  it(
    naming === 'collector' ? 'uses the _seconds suffix on durations' : 'uses no unit suffix',
    () => {
      const text = JSON.stringify(built.file);
      if (naming === 'collector') {
        expect(text).toContain('resilience_call_duration_seconds_count');
        expect(text).not.toMatch(/resilience_call_duration_count/);
      } else {
        expect(text).toContain('resilience_call_duration_count');
        expect(text).not.toContain('_seconds');
      }
    },
  );

  it('aggregates instance and otel_scope_name away but keeps job and the instrument name', () => {
    for (const rule of [...alerts, ...recordings]) {
      for (const [, labels] of rule.expr.matchAll(/\b(?:by|without) \(([^)]*)\)/g)) {
        const list = labels!.split(', ');
        expect(list).not.toContain('otel_scope_name');
        expect(list).toContain('job');
        expect(
          list.includes('resilience_name') || list.includes('db_client_connection_pool_name'),
        ).toBe(true);
      }
    }
    // Only the pool ratio looks at one instance, to take the fullest.
    const perInstance = recordings.filter((r) => /by \([^)]*\binstance\b/.test(r.expr));
    expect(perInstance.map((r) => r.record)).toEqual(['resilience:db_pool_used:ratio_max']);
    expect(perInstance[0]?.expr).toMatch(
      /^max by \(job, db_client_connection_pool_name, db_system_name\)/,
    );
  });

  it('never divides by zero', () => {
    for (const rule of recordings) {
      const lines = rule.expr.split('\n').map((l) => l.trim());
      lines.forEach((line, i) => {
        // Every division is written `…\n/\n(<denominator> > 0)`: no series where it is 0.
        if (line.includes('/')) {
          expect(line, rule.record).toBe('/');
          expect(lines[i + 1], rule.record).toMatch(/^\(.* > 0\)$/);
        }
      });
    }
  });

  it('uses rate() windows no longer than the for: of the alerts on them', () => {
    for (const alert of alerts) {
      if (alert.alert.includes('ErrorBudget')) continue; // burn-rate windows are the recipe's
      for (const [, record] of alert.expr.matchAll(/(\S+:rate(\d+[smhd]))/g)) {
        const window = record!.replace(/.*rate/, '');
        expect(parseDuration(window)!, `${alert.alert} ${record}`).toBeLessThanOrEqual(
          parseDuration(alert.for)!,
        );
      }
    }
  });

  it('defines every recording rule an alert uses, once', () => {
    const defined = recordings.map((r) => r.record);
    expect(new Set(defined).size).toBe(defined.length);
    for (const alert of alerts) {
      for (const [used] of alert.expr.matchAll(/resilience:[a-z_]+:[a-z0-9_]+/g)) {
        expect(defined).toContain(used);
      }
    }
    expect(defined).toEqual([
      'resilience:calls:rate5m',
      'resilience:call_failures:ratio_rate5m',
      'resilience:call_failures:ratio_rate30m',
      'resilience:call_failures:ratio_rate1h',
      'resilience:call_failures:ratio_rate2h',
      'resilience:call_failures:ratio_rate6h',
      'resilience:call_failures:ratio_rate1d',
      'resilience:call_failures:ratio_rate3d',
      'resilience:attempts_per_call:ratio_rate5m',
      'resilience:db_pool_used:ratio_max',
      'resilience:db_pool_acquire_timeouts:rate5m',
    ]);
  });

  it('builds the multiwindow multi-burn-rate alerts from the recording rules', () => {
    const fast = alerts.find((a) => a.alert === 'ResilienceErrorBudgetFastBurn')!;
    expect(fast.expr).toContain('resilience:call_failures:ratio_rate1h / (1 - 0.99) > 14.4');
    expect(fast.expr).toContain('resilience:call_failures:ratio_rate5m / (1 - 0.99) > 14.4');
    expect(fast.expr).toContain('resilience:call_failures:ratio_rate6h / (1 - 0.99) > 6');
    expect(fast.expr).toContain('resilience:call_failures:ratio_rate30m / (1 - 0.99) > 6');
    expect(fast.labels.severity).toBe('critical');
    const slow = alerts.find((a) => a.alert === 'ResilienceErrorBudgetSlowBurn')!;
    expect(slow.expr).toContain('resilience:call_failures:ratio_rate1d / (1 - 0.99) > 3');
    expect(slow.expr).toContain('resilience:call_failures:ratio_rate2h / (1 - 0.99) > 3');
    expect(slow.expr).toContain('resilience:call_failures:ratio_rate3d / (1 - 0.99) > 1');
    expect(slow.expr).toContain('resilience:call_failures:ratio_rate6h / (1 - 0.99) > 1');
    expect(slow.labels.severity).toBe('warning');
  });
});

describe('config reaches the rules', () => {
  it('prefix, thresholds, for:, traffic guard and label grouping', () => {
    const built = buildRules(
      defineAlertsConfig({
        prefix: 'AcmeResilience',
        groupBy: ['job', 'namespace'],
        failureRate: { warning: 0.1, warningFor: '15m', minCalls: 0 },
        circuitBreakerOpen: { states: ['open'], extraLabels: [] },
      }),
    );
    expect(recordingNamespace('AcmeResilience')).toBe('acme_resilience');
    const warning = built.alerts.find((a) => a.id === 'failure-rate-warning')!;
    expect(warning.name).toBe('AcmeResilienceFailureRateWarning');
    expect(warning.expr).toBe('acme_resilience:call_failures:ratio_rate5m > 0.1');
    expect(warning.for).toBe('15m');
    const breaker = built.alerts.find((a) => a.id === 'circuit-breaker-open')!;
    expect(breaker.expr).toBe(
      'sum by (job, namespace, resilience_name) (resilience_circuit_breaker_state{resilience_circuit_breaker_state="open"}) > 0',
    );
    expect(built.file.groups.map((g) => g.name)).toEqual([
      'acme-resilience.recording',
      'acme-resilience.alerts',
    ]);
  });
});
