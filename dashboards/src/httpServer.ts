import type { DashboardSpec } from './dashboard.js';
import { percent, statPanel, timeseriesPanel, warningCritical } from './panels.js';
import { eq, isVar, LABEL, orZero, type Promql, re, sumBy } from './promql.js';

const ROUTE = [isVar(LABEL.route, 'route')];
const BY_ROUTE = [LABEL.route];
const ROUTE_LEGEND = `{{${LABEL.route}}}`;
const SERVER_ERROR = re(LABEL.status, '5..');
const TIMED_OUT = re(LABEL.rejectionReason, 'timeout|deadline_exceeded');

/** Inbound answers of the middleware (`reason` matcher), per second, 0 when none. */
function rejections(q: Promql, reason: string, by: readonly string[]): string {
  return orZero(
    sumBy(by, q.rate('inboundRejections', [...ROUTE, reason])),
    sumBy(by, q.rate('inboundRejections', ROUTE)),
  );
}

/** Inbound answers of the middleware (`reason` matcher) over the time range, 0 when none. */
function rejectionsOverRange(q: Promql, reason: string): string {
  return orZero(
    sumBy([], q.increaseOverRange('inboundRejections', [...ROUTE, reason])),
    sumBy([], q.increaseOverRange('inboundRejections', ROUTE)),
  );
}

/** Inbound requests: rate, errors, duration by route, and what the middleware answered itself. */
export const httpServer: DashboardSpec = {
  slug: 'http-server',
  title: 'HTTP server',
  description:
    "Inbound HTTP requests of the selected services by route (http.server.request.duration, from @opentelemetry/instrumentation-http or the middleware's serverMetrics option) and the requests the Express/Koa middleware answered itself: shed, timed out, refused by a route breaker.",
  targets: { metric: 'httpServerDuration' },
  variables: [
    {
      name: 'route',
      label: 'Route',
      description: 'http.route: the route template, never the path (_OTHER when no route matched).',
      metric: 'httpServerDuration',
      valuesOf: LABEL.route,
    },
  ],
  rows: (q, config) => {
    const all = sumBy(BY_ROUTE, q.rate('httpServerDuration', ROUTE));
    const allOverRange = sumBy([], q.increaseOverRange('httpServerDuration', ROUTE));
    return [
      {
        title: 'Summary',
        panels: [
          statPanel({
            title: 'Requests',
            description: 'Inbound requests per second on the selected routes.',
            targets: [{ expr: sumBy([], q.rate('httpServerDuration', ROUTE)) }],
            unit: 'reqps',
            width: 4,
          }),
          statPanel({
            title: 'Server errors',
            description: `Share of requests answered with a 5xx status over the time range; coloured with the failure-rate thresholds (${percent(config.failureRate.warning)} / ${percent(config.failureRate.critical)}).`,
            targets: [
              {
                expr: `${orZero(sumBy([], q.increaseOverRange('httpServerDuration', [...ROUTE, SERVER_ERROR])), allOverRange)} / ${allOverRange}`,
                instant: true,
              },
            ],
            unit: 'percentunit',
            decimals: 1,
            thresholds: warningCritical(config.failureRate.warning, config.failureRate.critical),
            background: true,
            width: 4,
          }),
          statPanel({
            title: 'Duration p95',
            description: '95th percentile of the request duration on the selected routes.',
            targets: [{ expr: q.quantile(0.95, 'httpServerDuration', [], ROUTE) }],
            unit: 's',
            width: 4,
          }),
          statPanel({
            title: 'Shed',
            description:
              'Requests answered 503 over the time range because the server or route bulkhead and its queue were full (resilience.http.server.rejections, reason shed).',
            targets: [
              { expr: rejectionsOverRange(q, eq(LABEL.rejectionReason, 'shed')), instant: true },
            ],
            thresholds: [{ value: 1, color: 'orange' }],
            decimals: 0,
            width: 4,
          }),
          statPanel({
            title: 'Timed out',
            description:
              "Requests over the time range the middleware answered because their time limit passed (timeout) or the caller's deadline had already expired (deadline_exceeded).",
            targets: [{ expr: rejectionsOverRange(q, TIMED_OUT), instant: true }],
            thresholds: [{ value: 1, color: 'orange' }],
            decimals: 0,
            width: 4,
          }),
          statPanel({
            title: 'Refused by route breakers',
            description:
              'Requests over the time range answered 503 by an open route breaker (reason circuit_open).',
            targets: [
              {
                expr: rejectionsOverRange(q, eq(LABEL.rejectionReason, 'circuit_open')),
                instant: true,
              },
            ],
            thresholds: [{ value: 1, color: 'red' }],
            decimals: 0,
            width: 4,
          }),
        ],
      },
      {
        title: 'Requests',
        panels: [
          timeseriesPanel({
            title: 'Requests by route',
            description: 'Inbound requests per second by route template.',
            targets: [{ expr: all, legend: ROUTE_LEGEND }],
            unit: 'reqps',
            stack: true,
            width: 8,
          }),
          timeseriesPanel({
            title: 'Requests by status code',
            description: 'Inbound requests per second by response status code.',
            targets: [
              {
                expr: sumBy([LABEL.status], q.rate('httpServerDuration', ROUTE)),
                legend: `{{${LABEL.status}}}`,
              },
            ],
            unit: 'reqps',
            stack: true,
            width: 8,
          }),
          timeseriesPanel({
            title: 'Server error rate by route',
            description: `Requests answered with a 5xx status / requests, by route; dashed lines at the failure-rate thresholds (${percent(config.failureRate.warning)} / ${percent(config.failureRate.critical)}).`,
            targets: [
              {
                expr: `${orZero(sumBy(BY_ROUTE, q.rate('httpServerDuration', [...ROUTE, SERVER_ERROR])), all)} / ${all}`,
                legend: ROUTE_LEGEND,
              },
            ],
            unit: 'percentunit',
            min: 0,
            max: 1,
            thresholds: warningCritical(config.failureRate.warning, config.failureRate.critical),
            drawThresholds: true,
            width: 8,
          }),
          timeseriesPanel({
            title: 'Duration p95 by route',
            description: '95th percentile of the request duration by route.',
            targets: [
              {
                expr: q.quantile(0.95, 'httpServerDuration', BY_ROUTE, ROUTE),
                legend: ROUTE_LEGEND,
              },
            ],
            unit: 's',
          }),
          timeseriesPanel({
            title: 'Duration percentiles',
            description:
              '50th, 95th and 99th percentiles of the request duration on the selected routes.',
            targets: [0.5, 0.95, 0.99].map((quantile) => ({
              expr: q.quantile(quantile, 'httpServerDuration', [], ROUTE),
              legend: `p${quantile * 100}`,
            })),
            unit: 's',
          }),
        ],
      },
      {
        title: 'Answered by the middleware',
        panels: [
          timeseriesPanel({
            title: 'Shed requests by route',
            description:
              'Requests per second answered 503 with Retry-After because the bulkhead and its queue were full (reason shed); _OTHER when shed before routing.',
            targets: [
              {
                expr: rejections(q, eq(LABEL.rejectionReason, 'shed'), BY_ROUTE),
                legend: ROUTE_LEGEND,
              },
            ],
            unit: 'reqps',
            width: 8,
          }),
          timeseriesPanel({
            title: 'Timed-out requests by route',
            description:
              "Requests per second the middleware answered because their time limit passed or the caller's deadline header had already expired (reasons timeout, deadline_exceeded).",
            targets: [{ expr: rejections(q, TIMED_OUT, BY_ROUTE), legend: ROUTE_LEGEND }],
            unit: 'reqps',
            width: 8,
          }),
          timeseriesPanel({
            title: 'Middleware answers by reason',
            description:
              'Every request the middleware answered instead of the handler, by route and reason: shed, circuit_open, timeout, deadline_exceeded (resilience.http.server.rejections).',
            targets: [
              {
                expr: sumBy(
                  [LABEL.route, LABEL.rejectionReason],
                  q.rate('inboundRejections', ROUTE),
                ),
                legend: `{{${LABEL.route}}} {{${LABEL.rejectionReason}}}`,
              },
            ],
            unit: 'reqps',
            stack: true,
            width: 8,
          }),
          timeseriesPanel({
            title: 'Invalid deadline headers',
            description:
              'Inbound deadline headers per second that could not be parsed and were ignored, by middleware (resilience.http.server.invalid_deadline_headers); always 0 without the deadlineHeader option.',
            targets: [
              {
                expr: sumBy([LABEL.name], q.rate('invalidDeadlineHeaders')),
                legend: `{{${LABEL.name}}}`,
              },
            ],
            unit: 'reqps',
            width: 24,
          }),
        ],
      },
    ];
  },
};
