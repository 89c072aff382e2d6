import type { DashboardSpec } from './dashboard.js';
import { percent, statPanel, timeseriesPanel, warningCritical } from './panels.js';
import { eq, isVar, LABEL, orZero, type Promql, sumBy } from './promql.js';
import { breakersIn } from './shared.js';

const PIPELINE = [isVar(LABEL.name, 'pipeline')];
const BY_NAME = [LABEL.name];

/**
 * Share of calls (per `by` group) whose outcome is `outcome`, over `$__rate_interval`; 0 for
 * groups that had calls but none with that outcome.
 */
function outcomeShare(q: Promql, outcome: string, by: readonly string[]): string {
  const all = sumBy(by, q.rate('callDuration', PIPELINE));
  return `${orZero(sumBy(by, q.rate('callDuration', [...PIPELINE, eq(LABEL.outcome, outcome)])), all)} / ${all}`;
}

/** The same share over the whole time range (for stats). */
function outcomeShareOverRange(q: Promql, outcome: string): string {
  const all = sumBy([], q.increaseOverRange('callDuration', PIPELINE));
  const some = sumBy(
    [],
    q.increaseOverRange('callDuration', [...PIPELINE, eq(LABEL.outcome, outcome)]),
  );
  return `${orZero(some, all)} / ${all}`;
}

/** Calls, outcomes, retries and budgets of every policy pipeline. */
export const overview: DashboardSpec = {
  slug: 'overview',
  title: 'Overview',
  description:
    'Every policy pipeline of the selected services: calls by outcome, failure rate against the 20%/50% thresholds, success after retry, attempts per call, retry decisions and budgets, timeouts, fallbacks and bulkheads.',
  targets: { metric: 'callDuration' },
  variables: [
    {
      name: 'pipeline',
      label: 'Pipeline',
      description: 'resilience.name of the policy or pipeline (the outermost policy of a call).',
      metric: 'callDuration',
      valuesOf: LABEL.name,
    },
  ],
  rows: (q, config) => {
    const thresholds = warningCritical(config.failureRate.warning, config.failureRate.critical);
    return [
      {
        title: 'Summary',
        panels: [
          statPanel({
            title: 'Calls',
            description:
              'Logical calls per second through the selected pipelines (resilience.call.duration count), all attempts of a call counted once.',
            targets: [{ expr: sumBy([], q.rate('callDuration', PIPELINE)) }],
            unit: 'ops',
            width: 4,
          }),
          statPanel({
            title: 'Failure rate',
            description: `Share of calls that failed over the time range (outcome "failure"). Orange from ${percent(config.failureRate.warning)}, red from ${percent(config.failureRate.critical)}: the thresholds of the alert rules.`,
            targets: [{ expr: outcomeShareOverRange(q, 'failure'), instant: true }],
            unit: 'percentunit',
            decimals: 1,
            thresholds,
            background: true,
            width: 4,
          }),
          statPanel({
            title: 'Success after retry',
            description:
              'Share of calls over the time range that succeeded only after one or more retries (outcome "success_after_retry"): failures the retries absorbed.',
            targets: [{ expr: outcomeShareOverRange(q, 'success_after_retry'), instant: true }],
            unit: 'percentunit',
            decimals: 1,
            width: 4,
          }),
          statPanel({
            title: 'Attempts per call',
            description:
              'Attempts divided by calls over the time range: 1 means no retries; the load the retries add to the dependencies (retry amplification).',
            targets: [
              {
                expr: `${sumBy([], q.increaseOverRange('attemptDuration', PIPELINE))} / ${sumBy([], q.increaseOverRange('callDuration', PIPELINE))}`,
                instant: true,
              },
            ],
            decimals: 2,
            width: 4,
          }),
          statPanel({
            title: 'Open circuit breakers',
            description:
              'Circuit breakers of the selected services that are open now (resilience.circuit_breaker.state); see the Circuit breakers dashboard.',
            targets: [{ expr: breakersIn(q, 'open', []) }],
            thresholds: [{ value: 1, color: 'red' }],
            background: true,
            width: 4,
          }),
          statPanel({
            title: 'Lowest retry budget',
            description:
              'Fewest tokens any retry budget of the selected services has left (resilience.retry_budget.tokens); below 1 the budget refuses retries.',
            targets: [{ expr: `min(${q.select('retryBudgetTokens')})` }],
            baseColor: 'red',
            thresholds: [{ value: 1, color: 'green' }],
            decimals: 0,
            width: 4,
          }),
        ],
      },
      {
        title: 'Pipelines',
        panels: [
          timeseriesPanel({
            title: 'Calls by outcome',
            description:
              'Calls per second by pipeline and outcome: success, success_after_retry, failure (resilience.call.duration count).',
            targets: [
              {
                expr: sumBy([LABEL.name, LABEL.outcome], q.rate('callDuration', PIPELINE)),
                legend: `{{${LABEL.name}}} {{${LABEL.outcome}}}`,
              },
            ],
            unit: 'ops',
            stack: true,
          }),
          timeseriesPanel({
            title: 'Failure rate by pipeline',
            description: `Failed calls / calls per pipeline. The dashed lines are the alert thresholds: warning above ${percent(config.failureRate.warning)}, critical above ${percent(config.failureRate.critical)}.`,
            targets: [{ expr: outcomeShare(q, 'failure', BY_NAME), legend: `{{${LABEL.name}}}` }],
            unit: 'percentunit',
            min: 0,
            max: 1,
            thresholds,
            drawThresholds: true,
          }),
          timeseriesPanel({
            title: 'Success after retry by pipeline',
            description:
              'Share of calls per pipeline that succeeded only after retrying: a rising share means a dependency is failing and the retries are hiding it.',
            targets: [
              {
                expr: outcomeShare(q, 'success_after_retry', BY_NAME),
                legend: `{{${LABEL.name}}}`,
              },
            ],
            unit: 'percentunit',
            min: 0,
            max: 1,
          }),
          timeseriesPanel({
            title: 'Attempts per call by pipeline',
            description:
              'Attempts / calls per pipeline (resilience.attempt.duration and resilience.call.duration counts): 1 without retries, up to maxAttempts when every attempt fails.',
            targets: [
              {
                expr: `${sumBy(BY_NAME, q.rate('attemptDuration', PIPELINE))} / ${sumBy(BY_NAME, q.rate('callDuration', PIPELINE))}`,
                legend: `{{${LABEL.name}}}`,
              },
            ],
            decimals: 2,
            min: 0,
          }),
          timeseriesPanel({
            title: 'Call duration p95 by pipeline',
            description:
              '95th percentile of the duration of a whole call, every attempt and wait included (resilience.call.duration).',
            targets: [
              {
                expr: q.quantile(0.95, 'callDuration', BY_NAME, PIPELINE),
                legend: `{{${LABEL.name}}}`,
              },
            ],
            unit: 's',
          }),
          timeseriesPanel({
            title: 'Failed calls by error',
            description:
              'Failed calls per second by pipeline, error category (transient, rate_limited, timeout, configuration, data, system, unknown) and error.type.',
            targets: [
              {
                expr: sumBy(
                  [LABEL.name, LABEL.category, LABEL.errorType],
                  q.rate('callDuration', [...PIPELINE, eq(LABEL.outcome, 'failure')]),
                ),
                legend: `{{${LABEL.name}}} {{${LABEL.category}}} {{${LABEL.errorType}}}`,
              },
            ],
            unit: 'ops',
          }),
        ],
      },
      {
        title: 'Retries and budgets',
        panels: [
          timeseriesPanel({
            title: 'Retry decisions',
            description:
              'Decisions after failed attempts, by retry policy (its own resilience.name, so not filtered by pipeline), decision and reason: retry/retryable, give_up/max_attempts, skipped/non_retryable, budget, deadline, retry_after_too_long, aborted.',
            targets: [
              {
                expr: sumBy([LABEL.name, LABEL.decision, LABEL.reason], q.rate('retryDecisions')),
                legend: `{{${LABEL.name}}} {{${LABEL.decision}}} {{${LABEL.reason}}}`,
              },
            ],
            unit: 'ops',
            stack: true,
            width: 8,
          }),
          timeseriesPanel({
            title: 'Retries refused by the budget',
            description:
              'Retries per second a retry budget refused (decision skipped, reason budget), by retry policy: the budget is protecting a failing dependency from a retry storm.',
            targets: [
              {
                expr: orZero(
                  sumBy(BY_NAME, q.rate('retryDecisions', [eq(LABEL.reason, 'budget')])),
                  sumBy(BY_NAME, q.rate('retryDecisions')),
                ),
                legend: `{{${LABEL.name}}}`,
              },
            ],
            unit: 'ops',
            width: 8,
          }),
          timeseriesPanel({
            title: 'Retry budget tokens',
            description:
              'Retries each retry budget would allow right now, per instance (resilience.retry_budget.tokens); a retry needs one whole token.',
            targets: [
              {
                expr: sumBy([LABEL.name, 'instance'], q.select('retryBudgetTokens')),
                legend: `{{${LABEL.name}}} {{instance}}`,
              },
            ],
            min: 0,
            width: 8,
          }),
        ],
      },
      {
        title: 'Timeouts, fallbacks and bulkheads',
        panels: [
          timeseriesPanel({
            title: 'Timeouts',
            description:
              "Deadlines hit per second by timeout policy and source: the policy's own limit (timeout) or the caller's deadline (deadline) (resilience.timeouts).",
            targets: [
              {
                expr: sumBy([LABEL.name, LABEL.timeoutSource], q.rate('timeouts')),
                legend: `{{${LABEL.name}}} {{${LABEL.timeoutSource}}}`,
              },
            ],
            unit: 'ops',
            width: 6,
          }),
          timeseriesPanel({
            title: 'Fallbacks',
            description:
              'Calls answered by a fallback per second, by fallback policy and the outcome of the fallback itself (resilience.fallbacks).',
            targets: [
              {
                expr: sumBy([LABEL.name, LABEL.outcome], q.rate('fallbacks')),
                legend: `{{${LABEL.name}}} {{${LABEL.outcome}}}`,
              },
            ],
            unit: 'ops',
            width: 6,
          }),
          timeseriesPanel({
            title: 'Bulkhead concurrency',
            description:
              'Executions running in each bulkhead and waiting in its queue (resilience.bulkhead.active, resilience.bulkhead.queued), summed over instances.',
            targets: [
              {
                expr: sumBy(BY_NAME, q.select('bulkheadActive')),
                legend: `{{${LABEL.name}}} active`,
              },
              {
                expr: sumBy(BY_NAME, q.select('bulkheadQueued')),
                legend: `{{${LABEL.name}}} queued`,
              },
            ],
            min: 0,
            width: 6,
          }),
          timeseriesPanel({
            title: 'Bulkhead rejections',
            description:
              'Calls shed per second because a bulkhead and its queue were full (resilience.bulkhead.rejections).',
            targets: [
              {
                expr: sumBy(BY_NAME, q.rate('bulkheadRejections')),
                legend: `{{${LABEL.name}}}`,
              },
            ],
            unit: 'ops',
            width: 6,
          }),
        ],
      },
    ];
  },
};
