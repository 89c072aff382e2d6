/**
 * The resilience settings both example services use (Express and Koa alike), tuned so that a
 * 30-second demo shows every mechanism: short breaker open periods, a deadline of 1.5 s, a small
 * shedding limit, a retry budget that a brownout can drain.
 */
import {
  aggressiveBackoff,
  consecutiveBreaker,
  type InboundGuardOptions,
  type InboundRouteOptions,
  RetryBudget,
  timeBasedBreaker,
} from 'otel-resilience';
import type { AxiosResilienceOptions } from 'otel-resilience-axios';
import type { KnexResilienceOptions } from 'otel-resilience-knex';

/*
 * This module loads no framework, driver or HTTP client (only the engine), so that it can be
 * imported before `startTelemetry()`.
 */

/** `resilience.name` of the Knex query pipeline; transactions report `orders-db.transaction`. */
export const DB_NAME = 'orders-db';

/** The SKUs the stock table holds (and the load driver orders). */
export const SKUS = ['A1', 'B2', 'C3', 'D4', 'E5', 'F6', 'G7', 'H8'] as const;

/** Orders seeded when the database opens: ids 1..SEEDED_ORDERS exist. */
export const SEEDED_ORDERS = 50;

/** The `resilience.name` of each pipeline, as the live view and the tests look them up. */
export const NAMES = {
  /** The inbound middleware: its bulkhead, budget, rejections; route breakers are `<inbound> <route>`. */
  inbound: 'http.server',
  /** The Axios instance calling the flaky upstream (its per-host breakers carry this name). */
  upstream: 'upstream',
  /** The fallback answering a read without a price when the upstream call finally fails. */
  price: 'price',
  /** Knex queries; transactions are `<db>.transaction`. */
  db: DB_NAME,
  dbTransaction: `${DB_NAME}.transaction`,
} as const;

/** The route templates of the services (the same in both frameworks). */
export const ROUTES = {
  getOrder: '/orders/:id',
  postOrder: '/orders',
} as const;

export interface ServiceSettings {
  /** Time limit of every request, from arrival (the deadline outbound calls inherit). */
  readonly requestTimeoutMs: number;
  /** Server-wide load shedding. */
  readonly shedding: {
    readonly maxConcurrent: number;
    readonly maxQueued: number;
    readonly retryAfterSeconds: number;
  };
  /** The retry budget every request's outbound and DB retries share. */
  readonly retryBudget: { readonly percentCanRetry: number; readonly minRetriesPerSecond: number };
  /** `GET /orders/:id`'s own breaker: opens after this many 5xx or timeouts in a row. */
  readonly routeBreaker: { readonly failures: number; readonly halfOpenAfterMs: number };
  /** The Axios client of the upstream. */
  readonly upstream: {
    readonly attemptTimeoutMs: number;
    readonly maxAttempts: number;
    /** The breaker opens when 80% of at least 20 attempts in this window failed. */
    readonly breakerWindowMs: number;
    readonly halfOpenAfterMs: number;
  };
  /** The Knex plugin's database breaker. */
  readonly database: { readonly halfOpenAfterMs: number };
}

export const DEFAULT_SETTINGS: ServiceSettings = {
  requestTimeoutMs: 1_500,
  shedding: { maxConcurrent: 12, maxQueued: 4, retryAfterSeconds: 1 },
  retryBudget: { percentCanRetry: 0.2, minRetriesPerSecond: 3 },
  routeBreaker: { failures: 10, halfOpenAfterMs: 2_000 },
  upstream: {
    attemptTimeoutMs: 300,
    maxAttempts: 3,
    breakerWindowMs: 5_000,
    halfOpenAfterMs: 3_000,
  },
  database: { halfOpenAfterMs: 2_000 },
};

/** A deep-enough merge of partial overrides onto the defaults. */
export function resolveSettings(overrides: SettingsOverrides = {}): ServiceSettings {
  const d = DEFAULT_SETTINGS;
  return {
    requestTimeoutMs: overrides.requestTimeoutMs ?? d.requestTimeoutMs,
    shedding: { ...d.shedding, ...overrides.shedding },
    retryBudget: { ...d.retryBudget, ...overrides.retryBudget },
    routeBreaker: { ...d.routeBreaker, ...overrides.routeBreaker },
    upstream: { ...d.upstream, ...overrides.upstream },
    database: { ...d.database, ...overrides.database },
  };
}

export type SettingsOverrides = {
  readonly [K in keyof ServiceSettings]?: ServiceSettings[K] extends object
    ? Partial<ServiceSettings[K]>
    : ServiceSettings[K];
};

/** Options of `expressResilience(...)` / `koaResilience(...)` (the engine's `InboundGuard`). */
export function inboundOptions(settings: ServiceSettings): InboundGuardOptions {
  return {
    name: NAMES.inbound,
    timeoutMs: settings.requestTimeoutMs,
    shedding: settings.shedding,
    retryBudget: new RetryBudget({ name: NAMES.inbound, ...settings.retryBudget }),
  };
}

/** Options of `resilience.route(...)` for `GET /orders/:id`. */
export function orderRouteOptions(settings: ServiceSettings): InboundRouteOptions {
  return {
    circuitBreaker: {
      breaker: consecutiveBreaker(settings.routeBreaker.failures),
      halfOpenAfterMs: settings.routeBreaker.halfOpenAfterMs,
    },
  };
}

/** Options of `attachResilience(...)` for the upstream's Axios instance. */
export function upstreamClientOptions(settings: ServiceSettings): AxiosResilienceOptions {
  return {
    name: NAMES.upstream,
    attemptTimeoutMs: settings.upstream.attemptTimeoutMs,
    retry: {
      maxAttempts: settings.upstream.maxAttempts,
      // 429s wait 3^n from 200 ms (the default starts at 1 s), and never less than Retry-After.
      strategies: { rate_limited: { backoff: aggressiveBackoff({ initialDelayMs: 200 }) } },
    },
    // The adapter's default strategy (80% of at least 20 attempts failed) over 5 s instead of
    // 10 s, so that it opens a few seconds into the outage rather than half-way through it, and
    // a short open time, so that it closes within the recovery phase.
    circuitBreaker: {
      breaker: timeBasedBreaker({
        failureRateThreshold: 0.8,
        minimumThroughput: 20,
        windowMs: settings.upstream.breakerWindowMs,
      }),
      halfOpenAfterMs: settings.upstream.halfOpenAfterMs,
    },
  };
}

/** Options of `withResilience(...)` for the database. */
export function databaseOptions(settings: ServiceSettings): KnexResilienceOptions {
  return {
    name: NAMES.db,
    circuitBreaker: { halfOpenAfterMs: settings.database.halfOpenAfterMs },
  };
}

/** Options of `startExampleService` the environment gives. */
export interface ServiceEnvOptions {
  readonly port?: number;
  readonly host?: string;
  readonly upstreamUrl?: string;
  readonly databaseUrl?: string;
}

/**
 * Service options from the environment: `PORT`, `HOST`, `UPSTREAM_URL`, `DATABASE_URL`.
 * @throws TypeError on a malformed PORT.
 */
export function serviceOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): ServiceEnvOptions {
  const text = (name: string) => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  const portText = text('PORT');
  const port = portText === undefined ? undefined : Number(portText);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port < 65_536)) {
    throw new TypeError(`PORT must be a port number, got ${JSON.stringify(portText)}`);
  }
  const host = text('HOST');
  const upstreamUrl = text('UPSTREAM_URL');
  const databaseUrl = text('DATABASE_URL');
  return {
    ...(port === undefined ? {} : { port }),
    ...(host === undefined ? {} : { host }),
    ...(upstreamUrl === undefined ? {} : { upstreamUrl }),
    ...(databaseUrl === undefined ? {} : { databaseUrl }),
  };
}
