import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Attributes } from '@opentelemetry/api';
import { type BulkheadPolicy, bulkhead } from '../BulkheadPolicy.js';
import {
  type CircuitBreakerOptions,
  CircuitBreakerPolicy,
  circuitBreaker,
} from '../CircuitBreakerPolicy.js';
import type { Disposable } from '../Disposable.js';
import { isTimeoutExceededError } from '../errors/TimeoutExceededError.js';
import { HealthRegistry } from '../health/HealthRegistry.js';
import type { Policy } from '../Policy.js';
import { RetryBudget } from '../RetryBudget.js';
import { TimerQueue } from '../TimerQueue.js';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_REJECTION_REASON,
  ATTR_RESILIENCE_NAME,
  ATTR_URL_SCHEME,
  httpMethodLabel,
  type InboundRejectionReason,
  UNMATCHED_ROUTE,
} from '../telemetry/attributes.js';
import { BoundedLabels } from '../telemetry/BoundedLabels.js';
import { type Series, series } from '../telemetry/metrics.js';
import { checkInteger, checkName } from '../validate.js';
import { wrap } from '../wrap.js';
import { type BeginOptions, InboundRequest, ServerErrorResponse } from './InboundRequest.js';

/**
 * Most distinct route templates one guard reports; later ones share `_OTHER`. Real applications
 * have tens or hundreds of routes.
 */
export const MAX_ROUTE_TEMPLATES = 1_000;

/** Load shedding: a bulkhead in front of the handlers. */
export interface SheddingOptions {
  /** Requests handled at the same time (an integer ≥ 1). Required. */
  readonly maxConcurrent: number;
  /** Requests that may wait for a slot; any more are answered 503 at once. Default: 0. */
  readonly maxQueued?: number;
  /** Seconds sent in the `Retry-After` of a shed response. Default: 1. */
  readonly retryAfterSeconds?: number;
}

/** Options of a route's circuit breaker: the engine's, without the name (derived from the route). */
export type RouteCircuitBreakerOptions = Omit<CircuitBreakerOptions, 'name' | 'attributes'>;

/** Per-route settings: see {@link InboundGuard.route}. */
export interface InboundRouteOptions {
  /** Time limit of this route's requests, in ms from arrival (may be longer than the default). */
  readonly timeoutMs?: number;
  /** A bulkhead of this route's own, inside the server-wide one. */
  readonly shedding?: SheddingOptions;
  /**
   * Fail fast with 503 and `Retry-After` while this route keeps failing: the engine's circuit
   * breaker, counting 5xx responses and timeouts as failures unless `isFailure` says otherwise.
   */
  readonly circuitBreaker?: RouteCircuitBreakerOptions;
}

/** Options of {@link InboundGuard} (and of the Express and Koa middleware built on it). */
export interface InboundGuardOptions {
  /** `resilience.name` of the guard's bulkheads, breakers, budget and counters. Default: `'http.server'`. */
  readonly name?: string;
  /** Time limit of every request, in ms from arrival; `Infinity` disables it. Default: 30000. */
  readonly timeoutMs?: number;
  /** Status of a request that ran out of time: 503 or 504. Default: 503. */
  readonly timeoutStatus?: 503 | 504;
  /**
   * Header carrying the caller's remaining time in ms (e.g. Envoy's
   * `x-envoy-expected-rq-timeout-ms`); it can only shorten `timeoutMs`. Malformed values are
   * ignored and counted. Default: none.
   */
  readonly deadlineHeader?: string;
  /** Server-wide load shedding. Default: none. */
  readonly shedding?: SheddingOptions;
  /**
   * Retry budget placed in every request's deadline scope, shared by the outbound calls the
   * requests make (the Axios interceptor, the Knex plugin); `null` places none. Default: a new
   * `RetryBudget` named after the guard.
   */
  readonly retryBudget?: RetryBudget | null;
  /**
   * Emit `http.server.request.duration` from the middleware. Turn it on only when no HTTP
   * instrumentation does (the http instrumentation emits the same series). Default: false.
   */
  readonly serverMetrics?: boolean;
  /** Registry the guard adds its bulkheads, breakers and budget to. Default: a new one. */
  readonly health?: HealthRegistry;
}

/**
 * The shared time-limit timers of inbound requests do not hold the process: a request in flight
 * has its connection, which does (and the timers then need no `ref()`/`unref()` per request).
 */
const INBOUND_TIMERS_KEEP_PROCESS_ALIVE = false;

/**
 * Per-route protection made by {@link InboundGuard.route}: its breaker and bulkhead are created
 * per route template on the first request, and registered with the guard's health registry.
 */
export class InboundRoute {
  private readonly byTemplate = new Map<string, Policy | undefined>();
  /** One timer for the route's limit, shared by its requests. @internal */
  readonly timerQueue: TimerQueue | undefined;

  /** @internal */
  constructor(
    readonly guard: InboundGuard,
    readonly options: InboundRouteOptions,
  ) {
    const { timeoutMs } = options;
    this.timerQueue =
      timeoutMs === undefined || timeoutMs === Number.POSITIVE_INFINITY
        ? undefined
        : new TimerQueue(timeoutMs, INBOUND_TIMERS_KEEP_PROCESS_ALIVE);
  }

  /**
   * The route's protection for `template`: its breaker around its bulkhead (a route whose breaker
   * is open takes no slot), either alone, or none. @internal
   */
  policyFor(route: string): Policy | undefined {
    const guard = this.guard;
    const template = guard.routeLabel(route);
    if (this.byTemplate.has(template)) return this.byTemplate.get(template);
    const name = `${guard.name} ${template}`;
    const attributes = { [ATTR_HTTP_ROUTE]: template };
    const { circuitBreaker: breakerOptions, shedding } = this.options;
    const policies: Policy[] = [];
    if (breakerOptions !== undefined) {
      const breaker = circuitBreaker({
        isFailure: isRouteFailure,
        ...breakerOptions,
        name,
        attributes,
      });
      guard.own(guard.health.addBreakers(breaker));
      guard.own(breaker);
      policies.push(breaker);
    }
    if (shedding !== undefined) {
      const routeBulkhead = bulkhead(shedding.maxConcurrent, {
        maxQueued: shedding.maxQueued ?? 0,
        name,
        attributes,
      });
      guard.own(guard.health.addBulkhead(routeBulkhead));
      policies.push(routeBulkhead);
    }
    const policy =
      policies.length === 0
        ? undefined
        : policies.length === 1
          ? policies[0]
          : wrap({ name }, ...policies);
    this.byTemplate.set(template, policy);
    return policy;
  }
}

/** A route fails when it answers 5xx or runs out of time. */
function isRouteFailure(error: unknown): boolean {
  return error instanceof ServerErrorResponse || isTimeoutExceededError(error);
}

/**
 * The framework-independent half of the Express and Koa middleware: per request, a deadline (a
 * default and per-route time limit, shortened by the caller's deadline header) with an
 * AbortSignal, load shedding, per-route circuit breakers, the deadline scope outbound calls read,
 * and the telemetry of all of it. It works on Node's own request and response objects, which both
 * frameworks expose, so the adapters only find the route template and call `next`.
 */
export class InboundGuard implements Disposable {
  readonly name: string;
  readonly timeoutMs: number;
  readonly timeoutStatus: 503 | 504;
  /** Lower-cased name of the deadline header, if any. */
  readonly deadlineHeader: string | undefined;
  readonly retryBudget: RetryBudget | undefined;
  /** The server-wide shedding bulkhead, if configured. */
  readonly bulkhead: BulkheadPolicy | undefined;
  readonly shedRetryAfterSeconds: number;
  readonly serverMetrics: boolean;
  readonly health: HealthRegistry;
  /** One timer for every request's default limit. @internal */
  readonly timerQueue: TimerQueue | undefined;
  private readonly owned: Disposable[] = [];
  private readonly ownsBudget: boolean;
  private readonly rejectionSeries = new Map<string, Series>();
  private readonly routeTemplates = new BoundedLabels(MAX_ROUTE_TEMPLATES);
  /** By method, then route, then `status * 2 + (https ? 1 : 0)`. */
  private readonly durationAttributes = new Map<string, Map<string, Map<number, Attributes>>>();
  /** @internal */
  readonly invalidHeaderSeries: Series;

  constructor(options: InboundGuardOptions = {}) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError(`options must be an object, got ${String(options)}`);
    }
    this.name = options.name === undefined ? 'http.server' : checkName('name', options.name);
    this.timeoutMs = checkTimeout('timeoutMs', options.timeoutMs ?? 30_000);
    const status = options.timeoutStatus ?? 503;
    if (status !== 503 && status !== 504) {
      throw new TypeError(`timeoutStatus must be 503 or 504, got ${String(status)}`);
    }
    this.timeoutStatus = status;
    this.timerQueue =
      this.timeoutMs === Number.POSITIVE_INFINITY
        ? undefined
        : new TimerQueue(this.timeoutMs, INBOUND_TIMERS_KEEP_PROCESS_ALIVE);
    if (options.deadlineHeader !== undefined) checkName('deadlineHeader', options.deadlineHeader);
    this.deadlineHeader = options.deadlineHeader?.toLowerCase();
    if (options.shedding !== undefined) checkShedding('shedding', options.shedding);
    this.shedRetryAfterSeconds = options.shedding?.retryAfterSeconds ?? 1;
    if (options.retryBudget !== undefined && options.retryBudget !== null) {
      if (!(options.retryBudget instanceof RetryBudget)) {
        throw new TypeError('retryBudget must be a RetryBudget or null');
      }
    }
    if (options.health !== undefined && !(options.health instanceof HealthRegistry)) {
      throw new TypeError('health must be a HealthRegistry');
    }
    if (options.serverMetrics !== undefined && typeof options.serverMetrics !== 'boolean') {
      throw new TypeError(`serverMetrics must be a boolean, got ${String(options.serverMetrics)}`);
    }
    this.serverMetrics = options.serverMetrics === true;
    this.health = options.health ?? new HealthRegistry();
    this.ownsBudget = options.retryBudget === undefined;
    this.retryBudget =
      options.retryBudget === undefined
        ? new RetryBudget({ name: this.name })
        : (options.retryBudget ?? undefined);
    if (this.retryBudget !== undefined) this.own(this.health.addBudget(this.retryBudget));
    this.bulkhead =
      options.shedding === undefined
        ? undefined
        : bulkhead(options.shedding.maxConcurrent, {
            maxQueued: options.shedding.maxQueued ?? 0,
            name: this.name,
          });
    if (this.bulkhead !== undefined) this.own(this.health.addBulkhead(this.bulkhead));
    this.invalidHeaderSeries = series('invalidDeadlineHeaders', {
      [ATTR_RESILIENCE_NAME]: this.name,
    });
  }

  /**
   * Per-route settings (a longer or shorter time limit, a route bulkhead, a route breaker),
   * validated now. The adapters turn it into a route-level middleware.
   * @throws TypeError naming the invalid option.
   */
  route(options: InboundRouteOptions): InboundRoute {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError(`route options must be an object, got ${String(options)}`);
    }
    if (options.timeoutMs !== undefined) checkTimeout('timeoutMs', options.timeoutMs);
    if (options.shedding !== undefined) checkShedding('shedding', options.shedding);
    if (options.circuitBreaker !== undefined) {
      // Construct one now so that invalid breaker options fail here, not on the first request.
      new CircuitBreakerPolicy({ ...options.circuitBreaker, name: this.name }).dispose();
    }
    return new InboundRoute(this, options);
  }

  /**
   * Starts guarding one request: reads the deadline header, arms the time limit, and watches the
   * response's end. Call {@link InboundRequest.run} next.
   */
  begin(req: IncomingMessage, res: ServerResponse, options?: BeginOptions): InboundRequest {
    return new InboundRequest(this, req, res, options);
  }

  /**
   * The `http.route` value of `template`: itself for the first {@link MAX_ROUTE_TEMPLATES}
   * templates the guard sees, `_OTHER` after that — a defence against an adapter or app that
   * would report raw paths, which would otherwise grow the series without bound. @internal
   */
  routeLabel(template: string | undefined): string {
    return template === undefined ? UNMATCHED_ROUTE : this.routeTemplates.label(template);
  }

  /** Counts a request the guard answered itself. @internal */
  countRejection(route: string | undefined, reason: InboundRejectionReason): void {
    const template = this.routeLabel(route);
    const id = `${template}\n${reason}`;
    let found = this.rejectionSeries.get(id);
    if (found === undefined) {
      found = series('inboundRejections', {
        [ATTR_RESILIENCE_NAME]: this.name,
        [ATTR_HTTP_ROUTE]: template,
        [ATTR_REJECTION_REASON]: reason,
      });
      this.rejectionSeries.set(id, found);
    }
    found.value++;
  }

  /**
   * Attributes of one `http.server.request.duration` measurement, cached by method, route,
   * status and scheme (nested maps: the lookup builds no key). @internal
   */
  durationAttributesFor(
    method: string,
    route: string | undefined,
    status: number,
    scheme: 'http' | 'https',
  ): Attributes {
    const normalized = httpMethodLabel(method);
    const template = this.routeLabel(route);
    let byRoute = this.durationAttributes.get(normalized);
    if (byRoute === undefined) {
      byRoute = new Map();
      this.durationAttributes.set(normalized, byRoute);
    }
    let byOutcome = byRoute.get(template);
    if (byOutcome === undefined) {
      byOutcome = new Map();
      byRoute.set(template, byOutcome);
    }
    const outcome = status * 2 + (scheme === 'https' ? 1 : 0);
    let attributes = byOutcome.get(outcome);
    if (attributes === undefined) {
      attributes = Object.freeze({
        [ATTR_HTTP_REQUEST_METHOD]: normalized,
        [ATTR_HTTP_ROUTE]: template,
        [ATTR_HTTP_RESPONSE_STATUS_CODE]: status,
        [ATTR_URL_SCHEME]: scheme,
        ...(status >= 500 ? { [ATTR_ERROR_TYPE]: String(status) } : {}),
      });
      byOutcome.set(outcome, attributes);
    }
    return attributes;
  }

  /** Keeps a registration to undo on {@link dispose}. @internal */
  own(registration: Disposable): void {
    this.owned.push(registration);
  }

  /** Removes the guard's entries from the health registry and disposes the budget it created. */
  dispose(): void {
    for (const registration of this.owned.splice(0)) registration.dispose();
    if (this.ownsBudget) this.retryBudget?.dispose();
  }
}

function checkTimeout(option: string, value: unknown): number {
  if (value === Number.POSITIVE_INFINITY) return value;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new TypeError(
      `${option} must be a number of milliseconds > 0 (or Infinity), got ${String(value)}`,
    );
  }
  return value;
}

function checkShedding(option: string, value: SheddingOptions): void {
  if (typeof value !== 'object' || value === null) {
    throw new TypeError(`${option} must be an object, got ${String(value)}`);
  }
  checkInteger(`${option}.maxConcurrent`, value.maxConcurrent, 1);
  if (value.maxQueued !== undefined) checkInteger(`${option}.maxQueued`, value.maxQueued, 0);
  if (value.retryAfterSeconds !== undefined) {
    checkInteger(`${option}.retryAfterSeconds`, value.retryAfterSeconds, 0);
  }
}
