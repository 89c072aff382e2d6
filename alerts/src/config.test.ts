import { describe, expect, it } from 'vitest';
import {
  AlertsConfigError,
  type AlertsConfigInput,
  DEFAULT_ALERTS_CONFIG,
  defineAlertsConfig,
  parseDuration,
  parseSelector,
} from './config.js';

/** The problems `input` is rejected with. */
function problemsOf(input: unknown): readonly string[] {
  try {
    defineAlertsConfig(input as AlertsConfigInput);
  } catch (error) {
    if (error instanceof AlertsConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected an AlertsConfigError');
}

describe('defineAlertsConfig', () => {
  it('defaults to the thresholds of DESIGN.md and the SRE workbook windows', () => {
    const config = defineAlertsConfig();
    expect(config).toEqual(DEFAULT_ALERTS_CONFIG);
    expect(config.prefix).toBe('Resilience');
    expect(config.failureRate).toMatchObject({ warning: 0.2, critical: 0.5 });
    expect(config.errorBudget.page.windows).toEqual([
      { long: '1h', short: '5m', factor: 14.4 },
      { long: '6h', short: '30m', factor: 6 },
    ]);
    expect(config.errorBudget.ticket.windows).toEqual([
      { long: '1d', short: '2h', factor: 3 },
      { long: '3d', short: '6h', factor: 1 },
    ]);
    expect(Object.isFrozen(config.failureRate)).toBe(true);
  });

  it('merges objects with the defaults and replaces arrays', () => {
    const config = defineAlertsConfig({
      failureRate: { warning: 0.1 },
      groupBy: ['job', 'namespace'],
      errorBudget: { ticket: { windows: [{ long: '3d', short: '6h', factor: 1 }] } },
    });
    expect(config.failureRate).toEqual({ ...DEFAULT_ALERTS_CONFIG.failureRate, warning: 0.1 });
    expect(config.groupBy).toEqual(['job', 'namespace']);
    expect(config.errorBudget.ticket).toEqual({
      for: '15m',
      windows: [{ long: '3d', short: '6h', factor: 1 }],
    });
    expect(config.errorBudget.page).toEqual(DEFAULT_ALERTS_CONFIG.errorBudget.page);
  });

  it('names every invalid field, all at once', () => {
    const error = (() => {
      try {
        defineAlertsConfig({ prefix: 'resilience', failureRate: { warning: 1.5 } });
      } catch (e) {
        return e as AlertsConfigError;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(AlertsConfigError);
    expect(error?.message).toContain('Invalid alerts config');
    expect(error?.problems).toEqual([
      'prefix: must be CamelCase letters and digits starting with a capital, e.g. "Resilience", got "resilience"',
      'failureRate.warning: must be a number in (0, 1), got 1.5',
    ]);
  });

  it.each<[string, unknown, string]>([
    ['unknown option', { failureRate: { warnng: 0.1 } }, 'failureRate.warnng: unknown option'],
    ['unknown top-level option', { thresholds: {} }, 'thresholds: unknown option'],
    ['object expected', { failureRate: 0.2 }, 'failureRate: must be an object, got 0.2'],
    [
      'naming',
      { naming: 'prometheus' },
      'naming: must be one of "otel-js", "collector", got "prometheus"',
    ],
    [
      'selector',
      { selector: '{job="x"}' },
      'selector: must be PromQL label matchers without braces',
    ],
    ['selector quoting', { selector: 'job=x' }, 'selector: must be PromQL label matchers'],
    [
      'groupBy label names',
      { groupBy: ['job', 'service.name'] },
      'groupBy: must be a list of distinct label names',
    ],
    [
      'groupBy instance',
      { groupBy: ['job', 'instance'] },
      'groupBy: must not contain "instance" (aggregated away)',
    ],
    [
      'groupBy resilience_name',
      { groupBy: ['resilience_name'] },
      'groupBy: must not contain "resilience_name" (always kept)',
    ],
    [
      'runbook URL',
      { runbookUrl: 'RUNBOOK.md' },
      'runbookUrl: must be an absolute http(s) URL without a #fragment, got "RUNBOOK.md"',
    ],
    [
      'runbook fragment',
      { runbookUrl: 'https://x.example/r.md#top' },
      'runbookUrl: must be an absolute http(s) URL without a #fragment',
    ],
    [
      'critical ≤ warning',
      { failureRate: { warning: 0.5, critical: 0.2 } },
      'failureRate.critical: must be greater than failureRate.warning (0.5), got 0.2',
    ],
    [
      'duration',
      { failureRate: { warningFor: '10 minutes' } },
      'failureRate.warningFor: must be a Prometheus duration such as "5m", got "10 minutes"',
    ],
    [
      'window longer than for',
      { failureRate: { window: '15m' } },
      'failureRate.window: must not be longer than failureRate.criticalFor (5m), got "15m"',
    ],
    [
      'window too short',
      { retryAmplification: { window: '30s' } },
      'retryAmplification.window: must span at least four scrapes (4 × scrapeInterval 15s), got "30s"',
    ],
    [
      'scrape interval',
      { scrapeInterval: 'often' },
      'scrapeInterval: must be a Prometheus duration such as "5m", got "often"',
    ],
    [
      'minCalls',
      { failureRate: { minCalls: -1 } },
      'failureRate.minCalls: must be a number ≥ 0, got -1',
    ],
    [
      'breaker states',
      { circuitBreakerOpen: { states: ['closed'] } },
      'circuitBreakerOpen.states: must be a non-empty list of open, half_open, isolated',
    ],
    [
      'pool ratio',
      { dbPool: { usedRatio: 0 } },
      'dbPool.usedRatio: must be a number in (0, 1], got 0',
    ],
    [
      'timeouts',
      { dbPool: { acquireTimeoutsPerSecond: Number.NaN } },
      'dbPool.acquireTimeoutsPerSecond: must be a number ≥ 0, got NaN',
    ],
    [
      'amplification',
      { retryAmplification: { attemptsPerCall: 1 } },
      'retryAmplification.attemptsPerCall: must be a number > 1',
    ],
    [
      'budget tokens',
      { retryBudget: { minTokens: 0 } },
      'retryBudget.minTokens: must be a number > 0, got 0',
    ],
    [
      'SLO target',
      { errorBudget: { sloTarget: 99.9 } },
      'errorBudget.sloTarget: must be a number in (0, 1), got 99.9',
    ],
    [
      'no windows',
      { errorBudget: { page: { windows: [] } } },
      'errorBudget.page.windows: must be a non-empty list of { long, short, factor }',
    ],
    [
      'short ≥ long',
      { errorBudget: { page: { windows: [{ long: '1h', short: '2h', factor: 14.4 }] } } },
      'errorBudget.page.windows[0].short: must be shorter than errorBudget.page.windows[0].long (1h), got "2h"',
    ],
    [
      'window key',
      {
        errorBudget: {
          ticket: { windows: [{ long: '1d', short: '2h', factor: 3, severity: 'x' }] },
        },
      },
      'errorBudget.ticket.windows[0].severity: unknown option',
    ],
    [
      'factor',
      { errorBudget: { page: { windows: [{ long: '1h', short: '5m', factor: 0 }] } } },
      'errorBudget.page.windows[0].factor: must be a number > 0, got 0',
    ],
    [
      'unreachable factor',
      {
        errorBudget: {
          sloTarget: 0.9,
          page: { windows: [{ long: '1h', short: '5m', factor: 14.4 }] },
        },
      },
      'errorBudget.page.windows[0].factor: 14.4× an error budget of 10% is 100% errors or more, so it can never fire',
    ],
  ])('rejects %s', (_, input, problem) => {
    const problems = problemsOf(input);
    expect(
      problems.some((p) => p.startsWith(problem)),
      problems.join('\n'),
    ).toBe(true);
  });
});

describe('parseDuration', () => {
  it('reads Prometheus durations', () => {
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('3d')).toBe(259_200_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('')).toBeUndefined();
    expect(parseDuration('5 m')).toBeUndefined();
    expect(parseDuration('m5')).toBeUndefined();
  });
});

describe('parseSelector', () => {
  it('reads label matchers', () => {
    expect(parseSelector('')).toEqual([]);
    expect(parseSelector('job=~".+", namespace="prod"')).toEqual([
      { label: 'job', op: '=~', value: '.+' },
      { label: 'namespace', op: '=', value: 'prod' },
    ]);
    expect(parseSelector('a!="x\\"y",b!~"z"')).toEqual([
      { label: 'a', op: '!=', value: 'x\\"y' },
      { label: 'b', op: '!~', value: 'z' },
    ]);
    expect(parseSelector('job')).toBeUndefined();
    expect(parseSelector('job="x" namespace="y"')).toBeUndefined();
  });
});
