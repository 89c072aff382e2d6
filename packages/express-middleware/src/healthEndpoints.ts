import type { Request, RequestHandler } from 'express';
import {
  type HealthEndpointsOptions as EngineHealthEndpointsOptions,
  HealthEndpoints,
  type HealthRegistry,
  writeAnswer,
} from 'otel-resilience';

/**
 * Options of {@link ExpressResilience.healthEndpoints}: `healthPath` (default `'/health'`) and
 * `statusPath` (default `'/status'`), relative to where the handler is mounted, `null` to serve
 * none; `authorize(req)` and `deniedStatus` (401 or 403, default 403) to protect them.
 */
export type HealthEndpointsOptions = EngineHealthEndpointsOptions<Request>;

/**
 * Serves `GET`/`HEAD` of the readiness and status endpoints of `registry`; every other request
 * goes on to the next handler, so it can be mounted anywhere (`app.use('/ops', handler)`).
 * @throws TypeError naming an invalid option.
 */
export function healthEndpoints(
  registry: HealthRegistry,
  options: HealthEndpointsOptions = {},
): RequestHandler {
  const endpoints = new HealthEndpoints<Request>(registry, options);
  // Named: the Express instrumentation reports a middleware span by its function's name.
  return function resilienceHealth(req, res, next) {
    const endpoint = endpoints.endpointFor(req.method, req.path);
    if (endpoint === undefined) return next();
    endpoints.answer(endpoint, req).then((answer) => writeAnswer(res, answer), next);
  };
}
