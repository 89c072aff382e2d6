import { finished } from 'node:stream';
import type { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import type { Context, Middleware } from 'koa';
import {
  checkEndpointPath,
  EndpointProtection,
  type ProtectedEndpointOptions,
} from 'otel-resilience';
import { respondWith } from './answer.js';

/** Options of {@link metricsEndpoint}: the path, `authorize(ctx)` and `deniedStatus`. */
export interface MetricsEndpointOptions extends ProtectedEndpointOptions<Context> {
  /** Path serving the Prometheus exposition. Default: `'/metrics'`. */
  readonly path?: string;
}

/**
 * A Koa middleware serving `GET`/`HEAD` on `path` with the Prometheus exposition of `exporter`
 * (create it with `preventServerStart: true` to serve metrics only from the application's port),
 * and passing every other request on.
 * @throws TypeError naming an invalid option.
 */
export function metricsEndpoint(
  exporter: Pick<PrometheusExporter, 'getMetricsRequestHandler'>,
  options: MetricsEndpointOptions = {},
): Middleware {
  if (typeof exporter?.getMetricsRequestHandler !== 'function') {
    throw new TypeError('exporter must be a PrometheusExporter (with getMetricsRequestHandler)');
  }
  const protection = new EndpointProtection<Context>(options);
  const path = checkEndpointPath('path', options.path === undefined ? '/metrics' : options.path);
  return async function prometheusMetrics(ctx, next) {
    if (ctx.path !== path || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
    const refusal = await protection.refusalFor(ctx);
    if (refusal !== undefined) return respondWith(ctx, refusal);
    // The exporter writes the response itself; Koa must leave it alone.
    ctx.respond = false;
    const res = ctx.res;
    const done = new Promise<void>((resolve) => finished(res, () => resolve()));
    exporter.getMetricsRequestHandler(ctx.req, res);
    await done;
  };
}
