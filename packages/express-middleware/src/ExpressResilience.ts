import type { ServerResponse } from 'node:http';
import type { Request, RequestHandler } from 'express';
import {
  type Disposable,
  type HealthRegistry,
  InboundGuard,
  type InboundGuardOptions,
  type InboundRequest,
  type InboundRouteOptions,
  UNMATCHED_ROUTE,
} from 'otel-resilience';
import { type HealthEndpointsOptions, healthEndpoints } from './healthEndpoints.js';
import { attachInboundRequest, inboundRequestOf } from './inboundRequestOf.js';
import {
  type MetricsEndpointOptions,
  metricsEndpoint,
  type PrometheusRequestHandlerSource,
} from './metricsEndpoint.js';
import { currentTemplate, RouteFollower } from './routeTemplate.js';
import { schemeOf } from './urlScheme.js';

/**
 * Options of {@link expressResilience}: those of the engine's `InboundGuard`.
 *
 * | option | default |
 * |---|---|
 * | `name` | `'http.server'` (`resilience.name` of everything the middleware reports) |
 * | `timeoutMs` | 30000 ms from arrival; `Infinity` disables it |
 * | `timeoutStatus` | 503 (or 504) |
 * | `deadlineHeader` | none (a header with the caller's remaining time in ms) |
 * | `shedding` | none (`{ maxConcurrent, maxQueued = 0, retryAfterSeconds = 1 }`) |
 * | `retryBudget` | a new `RetryBudget` named after the guard; `null` for none |
 * | `serverMetrics` | false (emit `http.server.request.duration` when no instrumentation does) |
 * | `health` | a new `HealthRegistry` |
 */
export type ExpressResilienceOptions = InboundGuardOptions;

/**
 * Options of {@link ExpressResilience.route}: `timeoutMs` (ms from arrival, may be longer than the
 * default), `shedding` (a bulkhead of the route's own), `circuitBreaker` (the engine's breaker
 * options; 5xx responses and timeouts count as failures).
 */
export type ExpressRouteOptions = InboundRouteOptions;

/**
 * Resilience for one Express app (4 or 5): the app middleware, route middleware, health, status
 * and metrics endpoints, all over one engine `InboundGuard`. Made by {@link expressResilience}.
 */
export class ExpressResilience implements Disposable {
  /** The engine guard every middleware of this instance goes through. */
  readonly guard: InboundGuard;

  /**
   * The health registry `/health` and `/status` serve: `addCheck(name, check, options)` for your
   * own checks (a database ping), `addBreakers`, `addBulkhead`, `addBudget` for outbound ones. The
   * middleware's bulkheads, route breakers and retry budget are in it already.
   */
  readonly health: HealthRegistry;

  /**
   * @throws TypeError naming the invalid option.
   */
  constructor(options: ExpressResilienceOptions = {}) {
    this.guard = new InboundGuard(options);
    this.health = this.guard.health;
  }

  /**
   * The app-level middleware: `app.use(resilience.middleware())` before the routes. Per request it
   * arms the time limit (default and deadline header), applies server-wide load shedding, runs the
   * rest of the app inside the request's deadline scope (deadline, `AbortSignal`, retry budget),
   * and reports the route template (`http.route`) as soon as a route matches. Always returns the
   * same function. A request already guarded (a second instance, a sub-app) passes through.
   */
  middleware(): RequestHandler {
    return this.resilienceMiddleware;
  }

  private readonly resilienceMiddleware: RequestHandler = (req, res, next) => {
    if (inboundRequestOf(req) !== undefined) return next();
    const request = this.begin(req, res);
    new RouteFollower(req, request);
    request.run(next)?.catch(next);
  };

  /**
   * A route-level middleware with this route's own settings, validated now:
   * `app.get('/reports/:id', resilience.route({ timeoutMs: 60_000 }), handler)`. Its breaker and
   * bulkhead are per route template (`req.baseUrl` + `req.route.path`, mount parameters rebuilt
   * into `:name`). Mounted with `app.use(path, …)` it applies to the mount's template. Without the
   * app middleware it guards the request itself (then a mount path with parameters is reported as
   * it was requested: install the app middleware for those).
   * @throws TypeError naming the invalid option.
   */
  route(options: ExpressRouteOptions): RequestHandler {
    const inboundRoute = this.guard.route(options);
    // Named, so that the Express instrumentation's span reads `middleware - resilienceRoute`.
    const resilienceRoute: RequestHandler = (req, res, next) => {
      const template = currentTemplate(req) ?? UNMATCHED_ROUTE;
      const guarded = inboundRequestOf(req);
      if (guarded !== undefined) {
        guarded.enterRoute(inboundRoute, template, next)?.catch(next);
        return;
      }
      const request = this.begin(req, res);
      request.route = template;
      request.run(() => request.enterRoute(inboundRoute, template, next))?.catch(next);
    };
    return resilienceRoute;
  }

  /**
   * The health endpoints, for `app.use(resilience.healthEndpoints())` or under a prefix of your
   * choice (`app.use('/ops', …)`): `GET /health` answers 200 or 503 from the registry's readiness,
   * `GET /status` the whole report. Mount them before {@link middleware} so that load shedding and
   * time limits never refuse a probe.
   * @throws TypeError naming an invalid option.
   */
  healthEndpoints(options?: HealthEndpointsOptions): RequestHandler {
    return healthEndpoints(this.health, options);
  }

  /**
   * Serves a `PrometheusExporter`'s exposition on the app:
   * `app.get('/metrics', resilience.metricsEndpoint(exporter))`, the exporter created with
   * `preventServerStart: true`. (Or skip this and scrape the exporter's own port, 9464.)
   * @throws TypeError when `exporter` is not one or an option is invalid.
   */
  metricsEndpoint(
    exporter: PrometheusRequestHandlerSource,
    options?: MetricsEndpointOptions,
  ): RequestHandler {
    return metricsEndpoint(exporter, options);
  }

  /** Removes the middleware's entries from the health registry and disposes the budget it made. */
  dispose(): void {
    this.guard.dispose();
  }

  private begin(req: Request, res: ServerResponse): InboundRequest {
    const request = this.guard.begin(req, res, { scheme: schemeOf(req) });
    attachInboundRequest(req, request);
    return request;
  }
}

/**
 * Creates the Express resilience middleware set. All options are optional; invalid ones throw a
 * `TypeError` naming the option.
 * @example
 * const resilience = expressResilience({ timeoutMs: 10_000, shedding: { maxConcurrent: 100 } });
 * app.use(resilience.healthEndpoints());
 * app.use(resilience.middleware());
 * app.get('/orders/:id', resilience.route({ circuitBreaker: {} }), getOrder);
 */
export function expressResilience(options?: ExpressResilienceOptions): ExpressResilience {
  return new ExpressResilience(options);
}
