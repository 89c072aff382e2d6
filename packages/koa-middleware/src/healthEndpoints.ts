import type { Context, Middleware } from 'koa';
import {
  type HealthEndpointsOptions as EngineHealthEndpointsOptions,
  HealthEndpoints,
  type HealthRegistry,
} from 'otel-resilience';
import { respondWith } from './answer.js';

/**
 * Options of {@link healthEndpoints}: `healthPath` (default `'/health'`) and `statusPath` (default
 * `'/status'`), `null` to serve none; `authorize(ctx)` and `deniedStatus` (401 or 403, default
 * 403) to protect them.
 */
export type HealthEndpointsOptions = EngineHealthEndpointsOptions<Context>;

/**
 * A Koa middleware serving `GET`/`HEAD` on the health and status paths from `registry`, and passing
 * every other request on. Mount it before the resilience middleware, so that probes are neither
 * shed nor timed out under load, and mount it twice to protect only one endpoint (`authorize` on
 * the one with `healthPath: null`).
 * @throws TypeError naming an invalid option.
 */
export function healthEndpoints(
  registry: HealthRegistry,
  options: HealthEndpointsOptions = {},
): Middleware {
  const endpoints = new HealthEndpoints<Context>(registry, options);
  return async function resilienceHealth(ctx, next) {
    const endpoint = endpoints.endpointFor(ctx.method, ctx.path);
    if (endpoint === undefined) return next();
    respondWith(ctx, await endpoints.answer(endpoint, ctx));
  };
}
