import type { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import type { Context, Middleware } from 'koa';
import {
  type HealthRegistry,
  InboundGuard,
  type InboundGuardOptions,
  type InboundRequest,
  type InboundRouteOptions,
  UNMATCHED_ROUTE,
} from 'otel-resilience';
import { type HealthEndpointsOptions, healthEndpoints } from './healthEndpoints.js';
import { attachInboundRequest, inboundRequestOf } from './inboundRequestOf.js';
import { type MetricsEndpointOptions, metricsEndpoint } from './metricsEndpoint.js';
import { routeTemplateOf } from './routeTemplate.js';

/**
 * Options of {@link koaResilience}: those of the engine's `InboundGuard`.
 *
 * - `name` — `resilience.name` of every series and of the health entries. Default: `'http.server'`.
 * - `timeoutMs` — time limit of every request in ms from arrival; `Infinity` disables it.
 *   Default: 30000.
 * - `timeoutStatus` — 503 or 504 for a request that ran out of time. Default: 503.
 * - `deadlineHeader` — header carrying the caller's remaining time in ms; it only shortens the
 *   limit; malformed values are ignored and counted. Default: none.
 * - `shedding` — `{ maxConcurrent, maxQueued = 0, retryAfterSeconds = 1 }`. Default: none.
 * - `retryBudget` — the budget outbound calls draw from; `null` for none. Default: a new one.
 * - `serverMetrics` — emit `http.server.request.duration` (only without the http
 *   instrumentation). Default: false.
 * - `health` — the `HealthRegistry` to add to. Default: a new one.
 */
export type KoaResilienceOptions = InboundGuardOptions;

/** What {@link koaResilience} returns: the middleware, the health registry and the endpoints. */
export interface KoaResilience {
  /**
   * The app-level middleware (the same function on every call): deadline, server-wide shedding,
   * the deadline scope of everything downstream. `app.use()` it first, after only the health and
   * metrics endpoints.
   */
  middleware(): Middleware;
  /**
   * A route-level middleware with its own time limit (ms from arrival, may be longer than the
   * default), bulkhead and circuit breaker. Place it on a router route
   * (`router.get('/orders/:id', resilience.route({ ... }), handler)`): it reads the template the
   * router matched (`_OTHER` outside a route). Works without the app-level middleware too.
   * @throws TypeError naming an invalid option (now, not on the first request).
   */
  route(options: InboundRouteOptions): Middleware;
  /** The registry behind `/health` and `/status`: add checks with `addCheck(name, check, options)`. */
  readonly health: HealthRegistry;
  /** The engine guard the middleware is glue over (its bulkhead, budget, settings). */
  readonly guard: InboundGuard;
  /**
   * `/health` (200 or 503) and `/status` (the JSON report) at the paths of your choice, optionally
   * behind an `authorize` hook. See {@link HealthEndpointsOptions}.
   * @throws TypeError naming an invalid option.
   */
  healthEndpoints(options?: HealthEndpointsOptions): Middleware;
  /**
   * The Prometheus exposition of `exporter` on the app's own port (default path `/metrics`).
   * @throws TypeError naming an invalid option.
   */
  metricsEndpoint(
    exporter: Pick<PrometheusExporter, 'getMetricsRequestHandler'>,
    options?: MetricsEndpointOptions,
  ): Middleware;
  /** Removes the middleware's bulkheads, breakers and budget from the health registry. */
  dispose(): void;
}

/**
 * Resilience for a Koa 2 or 3 application: inbound deadlines answering 503/504, load shedding,
 * per-route circuit breakers, health and status endpoints, with the request's deadline, signal and
 * retry budget placed where outbound calls find them.
 *
 * ```ts
 * const resilience = koaResilience({ timeoutMs: 5_000, shedding: { maxConcurrent: 100 } });
 * app.use(resilience.healthEndpoints());
 * app.use(resilience.middleware());
 * ```
 * @throws TypeError naming an invalid option.
 */
export function koaResilience(options: KoaResilienceOptions = {}): KoaResilience {
  const guard = new InboundGuard(options);

  const begin = (ctx: Context): InboundRequest => {
    const request = guard.begin(ctx.req, ctx.res, {
      scheme: ctx.protocol === 'https' ? 'https' : 'http',
      // Until a route middleware names it, the guard reads the router's match when it reports.
      routeOf: () => routeTemplateOf(ctx),
    });
    attachInboundRequest(ctx, request);
    return request;
  };

  // Not async: the request's own promise (or none) is what Koa waits for. Until a route
  // middleware names the route, the guard reads the router's match and hands it to the http
  // instrumentation when the rest of the app settles, before Koa writes the response.
  const appMiddleware: Middleware = function resilienceMiddleware(ctx, next) {
    return begin(ctx).run(next);
  };

  return {
    middleware: () => appMiddleware,
    route(routeOptions: InboundRouteOptions): Middleware {
      const route = guard.route(routeOptions);
      return function resilienceRoute(ctx, next) {
        const template = routeTemplateOf(ctx) ?? UNMATCHED_ROUTE;
        const existing = inboundRequestOf(ctx);
        if (existing !== undefined) return existing.enterRoute(route, template, next);
        const request = begin(ctx);
        return request.run(() => request.enterRoute(route, template, next));
      };
    },
    health: guard.health,
    guard,
    healthEndpoints: (endpointOptions) => healthEndpoints(guard.health, endpointOptions),
    metricsEndpoint: (exporter, endpointOptions) => metricsEndpoint(exporter, endpointOptions),
    dispose: () => guard.dispose(),
  };
}
