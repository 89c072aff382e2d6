import type { DashboardSpec } from './dashboard.js';
import { percent, statPanel, timeseriesPanel, warningCritical } from './panels.js';
import { eq, has, isVar, LABEL, orZero, type Promql, sumBy } from './promql.js';
import { breakersIn, breakerTimeline } from './shared.js';

/**
 * The Axios interceptor's series: its policies carry `server.address` (one breaker, retry and
 * timeout per host under the instance's resilience.name). Other pipelines never set it.
 */
const HOST = [
  has(LABEL.serverAddress),
  isVar(LABEL.name, 'client'),
  isVar(LABEL.serverAddress, 'host'),
];
const BY_HOST = [LABEL.serverAddress];
const HOST_LEGEND = `{{${LABEL.serverAddress}}}`;

function perHostShare(q: Promql, outcome: string): string {
  const all = sumBy(BY_HOST, q.rate('callDuration', HOST));
  return `${orZero(sumBy(BY_HOST, q.rate('callDuration', [...HOST, eq(LABEL.outcome, outcome)])), all)} / ${all}`;
}

/** Retry decisions per host matching `matchers`, per second, 0 for hosts without any. */
function decisions(q: Promql, matchers: readonly string[]): string {
  return orZero(
    sumBy(BY_HOST, q.rate('retryDecisions', [...HOST, ...matchers])),
    sumBy(BY_HOST, q.rate('retryDecisions', HOST)),
  );
}

/** Outbound HTTP through the Axios interceptor, per host. */
export const httpClient: DashboardSpec = {
  slug: 'http-client',
  title: 'HTTP client',
  description:
    'Outbound HTTP requests through the otel-resilience Axios interceptor, per host (server.address): requests, failures, attempts and resends, retry decisions, Retry-After waits, per-host breakers and attempt timeouts.',
  targets: { metric: 'callDuration', matchers: [has(LABEL.serverAddress)] },
  variables: [
    {
      name: 'client',
      label: 'Client',
      description: "resilience.name of the Axios instance (the interceptor's name option).",
      metric: 'callDuration',
      valuesOf: LABEL.name,
      matchers: [has(LABEL.serverAddress)],
    },
    {
      name: 'host',
      label: 'Host',
      description: 'server.address: the host a request went to.',
      metric: 'callDuration',
      valuesOf: LABEL.serverAddress,
      matchers: [has(LABEL.serverAddress), isVar(LABEL.name, 'client')],
    },
  ],
  rows: (q, config) => {
    const thresholds = warningCritical(config.failureRate.warning, config.failureRate.critical);
    const calls = sumBy([], q.increaseOverRange('callDuration', HOST));
    const attempts = sumBy([], q.increaseOverRange('attemptDuration', HOST));
    return [
      {
        title: 'Summary',
        panels: [
          statPanel({
            title: 'Requests',
            description:
              'Logical requests per second (resilience.call.duration count): one per request, whatever its attempts.',
            targets: [{ expr: sumBy([], q.rate('callDuration', HOST)) }],
            unit: 'reqps',
            width: 5,
          }),
          statPanel({
            title: 'Failure rate',
            description: `Share of requests that failed after all their attempts, over the time range; orange from ${percent(config.failureRate.warning)}, red from ${percent(config.failureRate.critical)}.`,
            targets: [
              {
                expr: `${orZero(sumBy([], q.increaseOverRange('callDuration', [...HOST, eq(LABEL.outcome, 'failure')])), calls)} / ${calls}`,
                instant: true,
              },
            ],
            unit: 'percentunit',
            decimals: 1,
            thresholds,
            background: true,
            width: 5,
          }),
          statPanel({
            title: 'Attempts per request',
            description: 'Attempts / requests over the time range: 1 without retries.',
            targets: [{ expr: `${attempts} / ${calls}`, instant: true }],
            decimals: 2,
            width: 5,
          }),
          statPanel({
            title: 'Resends',
            description:
              'Attempts after the first over the time range: attempts − requests (the attempts whose span has http.request.resend_count ≥ 1).',
            targets: [{ expr: `round(clamp_min(${attempts} - ${calls}, 0))`, instant: true }],
            decimals: 0,
            width: 5,
          }),
          statPanel({
            title: 'Open host breakers',
            description: 'Per-host breakers open now: requests to those hosts fail fast.',
            targets: [{ expr: breakersIn(q, 'open', HOST) }],
            thresholds: [{ value: 1, color: 'red' }],
            background: true,
            width: 4,
          }),
        ],
      },
      {
        title: 'Requests per host',
        panels: [
          timeseriesPanel({
            title: 'Requests by host and outcome',
            description:
              'Logical requests per second by host and outcome: success, success_after_retry, failure.',
            targets: [
              {
                expr: sumBy([LABEL.serverAddress, LABEL.outcome], q.rate('callDuration', HOST)),
                legend: `${HOST_LEGEND} {{${LABEL.outcome}}}`,
              },
            ],
            unit: 'reqps',
            stack: true,
            width: 8,
          }),
          timeseriesPanel({
            title: 'Failure rate by host',
            description: `Failed requests / requests by host; dashed lines at the failure-rate thresholds (${percent(config.failureRate.warning)} / ${percent(config.failureRate.critical)}).`,
            targets: [{ expr: perHostShare(q, 'failure'), legend: HOST_LEGEND }],
            unit: 'percentunit',
            min: 0,
            max: 1,
            thresholds,
            drawThresholds: true,
            width: 8,
          }),
          timeseriesPanel({
            title: 'Success after retry by host',
            description: 'Share of requests by host that succeeded only after one or more resends.',
            targets: [{ expr: perHostShare(q, 'success_after_retry'), legend: HOST_LEGEND }],
            unit: 'percentunit',
            min: 0,
            max: 1,
            width: 8,
          }),
          timeseriesPanel({
            title: 'Attempts per request by host',
            description:
              'Attempts / requests by host (resilience.attempt.duration and resilience.call.duration counts).',
            targets: [
              {
                expr: `${sumBy(BY_HOST, q.rate('attemptDuration', HOST))} / ${sumBy(BY_HOST, q.rate('callDuration', HOST))}`,
                legend: HOST_LEGEND,
              },
            ],
            decimals: 2,
            min: 0,
            width: 8,
          }),
          timeseriesPanel({
            title: 'Resends by host',
            description:
              'Attempts after the first per second by host: attempts − requests (http.request.resend_count is a span attribute; this is its count).',
            targets: [
              {
                expr: `clamp_min(${sumBy(BY_HOST, q.rate('attemptDuration', HOST))} - ${sumBy(BY_HOST, q.rate('callDuration', HOST))}, 0)`,
                legend: HOST_LEGEND,
              },
            ],
            unit: 'reqps',
            width: 8,
          }),
          timeseriesPanel({
            title: 'Failed attempts by host and error',
            description:
              'Attempts that failed per second by host and error.type (HTTP status, ECONNRESET, timeout, circuit_open, …).',
            targets: [
              {
                expr: sumBy(
                  [LABEL.serverAddress, LABEL.errorType],
                  q.rate('attemptDuration', [...HOST, eq(LABEL.outcome, 'failure')]),
                ),
                legend: `${HOST_LEGEND} {{${LABEL.errorType}}}`,
              },
            ],
            unit: 'reqps',
            width: 8,
          }),
          timeseriesPanel({
            title: 'Request duration p95 by host',
            description:
              '95th percentile of a whole request by host, every attempt and wait included (resilience.call.duration).',
            targets: [
              { expr: q.quantile(0.95, 'callDuration', BY_HOST, HOST), legend: HOST_LEGEND },
            ],
            unit: 's',
          }),
          timeseriesPanel({
            title: 'Attempt duration p95 by host',
            description: '95th percentile of one attempt by host (resilience.attempt.duration).',
            targets: [
              { expr: q.quantile(0.95, 'attemptDuration', BY_HOST, HOST), legend: HOST_LEGEND },
            ],
            unit: 's',
          }),
        ],
      },
      {
        title: 'Retries',
        panels: [
          timeseriesPanel({
            title: 'Retry decisions by host',
            description:
              'Decisions after failed attempts per second by host, decision and reason (resilience.retry.decisions).',
            targets: [
              {
                expr: sumBy(
                  [LABEL.serverAddress, LABEL.decision, LABEL.reason],
                  q.rate('retryDecisions', HOST),
                ),
                legend: `${HOST_LEGEND} {{${LABEL.decision}}} {{${LABEL.reason}}}`,
              },
            ],
            unit: 'ops',
            stack: true,
            width: 8,
          }),
          timeseriesPanel({
            title: 'Retry-After waits by host',
            description:
              'Retries scheduled after a rate-limited answer (429, category rate_limited): each waits at least the Retry-After the server asked for; and retries given up because Retry-After exceeded maxRetryAfterMs or the deadline (reason retry_after_too_long). How long they waited is not a metric.',
            targets: [
              {
                expr: decisions(q, [
                  eq(LABEL.category, 'rate_limited'),
                  eq(LABEL.decision, 'retry'),
                ]),
                legend: `${HOST_LEGEND} waited`,
              },
              {
                expr: decisions(q, [eq(LABEL.reason, 'retry_after_too_long')]),
                legend: `${HOST_LEGEND} Retry-After too long`,
              },
            ],
            unit: 'ops',
            width: 8,
          }),
          timeseriesPanel({
            title: 'Retry budget tokens',
            description:
              "Tokens left in each Axios instance's own retry budget, per instance (resilience.retry_budget.tokens, named after the instance); a retry needs one whole token.",
            targets: [
              {
                expr: sumBy(
                  [LABEL.name, 'instance'],
                  q.select('retryBudgetTokens', [isVar(LABEL.name, 'client')]),
                ),
                legend: `{{${LABEL.name}}} {{instance}}`,
              },
            ],
            min: 0,
            width: 8,
          }),
        ],
      },
      {
        title: 'Breakers and timeouts',
        panels: [
          breakerTimeline(q, {
            title: 'Breaker state by host',
            description:
              "State of each host's breaker over time (worst instance first): open means requests to that host fail fast.",
            matchers: HOST,
            by: [LABEL.name, LABEL.serverAddress],
            legend: `{{${LABEL.name}}} ${HOST_LEGEND}`,
          }),
          timeseriesPanel({
            title: 'Requests refused by host breakers',
            description:
              'Requests per second failed fast by an open, half-open or isolated host breaker (resilience.circuit_breaker.rejections).',
            targets: [
              {
                expr: sumBy([LABEL.serverAddress, LABEL.state], q.rate('circuitRejections', HOST)),
                legend: `${HOST_LEGEND} {{${LABEL.state}}}`,
              },
            ],
            unit: 'reqps',
          }),
          timeseriesPanel({
            title: 'Attempt timeouts by host',
            description:
              "Attempts per second cut by the per-attempt limit (source timeout) or the request's deadline (source deadline) (resilience.timeouts).",
            targets: [
              {
                expr: sumBy([LABEL.serverAddress, LABEL.timeoutSource], q.rate('timeouts', HOST)),
                legend: `${HOST_LEGEND} {{${LABEL.timeoutSource}}}`,
              },
            ],
            unit: 'ops',
          }),
        ],
      },
    ];
  },
};
