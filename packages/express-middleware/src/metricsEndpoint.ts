import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, RequestHandler } from 'express';
import { EndpointProtection, type ProtectedEndpointOptions, writeAnswer } from 'otel-resilience';

/**
 * What {@link ExpressResilience.metricsEndpoint} needs of `@opentelemetry/exporter-prometheus`'s
 * `PrometheusExporter` (which satisfies it): declared here so that this package's types do not
 * require the exporter to be installed.
 */
export interface PrometheusRequestHandlerSource {
  getMetricsRequestHandler(request: IncomingMessage, response: ServerResponse): void;
}

/** Options of {@link ExpressResilience.metricsEndpoint}: `authorize(req)` and `deniedStatus`. */
export type MetricsEndpointOptions = ProtectedEndpointOptions<Request>;

/**
 * Serves the Prometheus exposition of `exporter` on the app, for services that want a single port:
 * mount it with `app.get('/metrics', …)` and create the exporter with `preventServerStart: true`
 * (otherwise it also listens on its own port, 9464 by default).
 * @throws TypeError when `exporter` has no `getMetricsRequestHandler` or an option is invalid.
 */
export function metricsEndpoint(
  exporter: PrometheusRequestHandlerSource,
  options: MetricsEndpointOptions = {},
): RequestHandler {
  if (typeof exporter?.getMetricsRequestHandler !== 'function') {
    throw new TypeError(
      'exporter must be a PrometheusExporter (it has no getMetricsRequestHandler)',
    );
  }
  const protection = new EndpointProtection<Request>(options);
  return function prometheusMetrics(req, res, next) {
    protection.refusalFor(req).then((refusal) => {
      if (refusal === undefined) exporter.getMetricsRequestHandler(req, res);
      else writeAnswer(res, refusal);
    }, next);
  };
}
