/**
 * What the example services do, independent of the web framework: read an order from the
 * database and price it through the upstream (`GET /orders/:id`), place an order in a transaction
 * (`POST /orders`). Handlers return an {@link Answer}; the Express and Koa apps only write it.
 * Nothing here mentions a deadline, a retry or a breaker: the middleware, the Axios interceptor
 * and the Knex plugin apply them around this code.
 */
import axios, { type AxiosInstance } from 'axios';
import {
  type FallbackPolicy,
  fallback,
  type HealthRegistry,
  isAbortedError,
  isBrokenCircuitError,
  isTimeoutExceededError,
} from 'otel-resilience';
import { type AxiosResilience, attachResilience } from 'otel-resilience-axios';
import type { ResilientKnex } from 'otel-resilience-knex';
import { type ExampleDatabase, findOrder, placeOrder } from './database.js';
import { NAMES, type ServiceSettings, SKUS, upstreamClientOptions } from './settings.js';

/** An HTTP answer for the framework to write. */
export interface Answer {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** A price, or why there is none: the upstream failed and the fallback answered. */
export type Price =
  | { readonly price: number; readonly degraded?: undefined }
  | { readonly price: null; readonly degraded: string };

export interface UpstreamClient {
  /** The Axios instance, with the resilience interceptor attached. */
  readonly http: AxiosInstance;
  /** The interceptor: its per-host breakers and options. */
  readonly resilience: AxiosResilience;
  /** The fallback around price look-ups (its telemetry is named `price`). */
  readonly priceFallback: FallbackPolicy<Price>;
  /**
   * The price of `sku` from the upstream — retried, time-limited and behind the breaker by the
   * interceptor — or, when that finally fails (an open breaker included), `{ price: null,
   * degraded: <error.type> }` from the fallback. Rejects only when the request itself gave up
   * (its deadline passed): there is no one left to answer.
   */
  price(sku: string): Promise<Price>;
  /** Detaches the interceptor (disposes its breakers). */
  close(): void;
}

export function createUpstreamClient(baseURL: string, settings: ServiceSettings): UpstreamClient {
  const http = axios.create({ baseURL });
  const resilience = attachResilience(http, upstreamClientOptions(settings));
  const priceFallback = fallback<Price>(
    ({ classification }) => ({ price: null, degraded: classification.errorType }),
    { name: NAMES.price, classifier: resilience.classifier },
  );
  return {
    http,
    resilience,
    priceFallback,
    price: (sku) =>
      priceFallback.execute(async (): Promise<Price> => {
        const { data } = await http.get<{ price: number }>(`/prices/${encodeURIComponent(sku)}`, {
          resilience: { routeTemplate: '/prices/{sku}' },
        });
        return { price: data.price };
      }),
    close: () => resilience.detach(),
  };
}

export interface OrdersDeps {
  readonly db: ResilientKnex;
  readonly upstream: UpstreamClient;
}

/**
 * Puts the database and the upstream in the health registry `/health` and `/status` serve: a
 * critical database ping (a failing database makes the instance unready), the database breaker
 * and the upstream's per-host breakers (an open one makes `/status` critical, not `/health`).
 */
export function registerHealth(
  health: HealthRegistry,
  database: ExampleDatabase,
  upstream: UpstreamClient,
): void {
  health.addCheck('database', () => database.ping().then(() => true), {
    critical: true,
    timeoutMs: 1_000,
  });
  if (database.db.resilience.breaker !== undefined) {
    health.addBreakers(database.db.resilience.breaker);
  }
  health.addBreakers(() => upstream.resilience.breakers().map(({ breaker }) => breaker));
}

/**
 * `GET /orders/:id`: the order from the database, priced by the upstream. When the upstream fails
 * (after the interceptor's retries, or at once while its breaker is open) the order is still
 * served, without a price and with `degraded` saying why.
 */
export async function getOrder(deps: OrdersDeps, rawId: string): Promise<Answer> {
  const id = Number(rawId);
  if (!Number.isInteger(id) || id < 1) return { status: 400, body: { error: 'bad_id' } };
  let order: Awaited<ReturnType<typeof findOrder>>;
  try {
    order = await findOrder(deps.db, id);
  } catch (error) {
    return databaseFailure(error);
  }
  if (order === undefined) return { status: 404, body: { error: 'not_found' } };
  let priced: Price;
  try {
    priced = await deps.upstream.price(order.sku);
  } catch (error) {
    return upstreamFailure(error);
  }
  if (priced.price === null) {
    return {
      status: 200,
      body: { ...order, unitPrice: null, total: null, degraded: priced.degraded },
    };
  }
  return {
    status: 200,
    body: { ...order, unitPrice: priced.price, total: priced.price * order.quantity },
  };
}

/** `POST /orders` with `{ sku, quantity }`: reserves stock and inserts the order, in one transaction. */
export async function createOrder(deps: OrdersDeps, body: unknown): Promise<Answer> {
  const { sku, quantity } = (typeof body === 'object' && body !== null ? body : {}) as {
    sku?: unknown;
    quantity?: unknown;
  };
  if (typeof sku !== 'string' || !(SKUS as readonly string[]).includes(sku)) {
    return { status: 400, body: { error: 'unknown_sku' } };
  }
  if (
    typeof quantity !== 'number' ||
    !Number.isInteger(quantity) ||
    quantity < 1 ||
    quantity > 10
  ) {
    return { status: 400, body: { error: 'bad_quantity' } };
  }
  try {
    const placed = await placeOrder(deps.db, { sku, quantity });
    if ('error' in placed) {
      return { status: placed.error === 'out_of_stock' ? 409 : 400, body: placed };
    }
    return { status: 201, body: placed };
  } catch (error) {
    return databaseFailure(error);
  }
}

/**
 * The answer for an upstream call that failed without a fallback: in practice the request's own
 * deadline passed (the middleware has usually answered 503 already, and this write is dropped).
 */
export function upstreamFailure(error: unknown): Answer {
  if (isBrokenCircuitError(error)) {
    // The breaker refused without calling: fail fast and say when a trial call will be let through.
    const seconds = Math.max(1, Math.ceil((error.retryAfterMs ?? 1_000) / 1_000));
    return {
      status: 503,
      body: { error: 'upstream_unavailable' },
      headers: { 'retry-after': String(seconds) },
    };
  }
  if (isTimeoutExceededError(error) || isAbortedError(error) || axios.isCancel(error)) {
    return { status: 504, body: { error: 'upstream_timeout' } };
  }
  const status = axios.isAxiosError(error) ? error.response?.status : undefined;
  return {
    status: 502,
    body:
      status === undefined ? { error: 'upstream_failed' } : { error: 'upstream_failed', status },
  };
}

/** The answer for a database call that finally failed. */
export function databaseFailure(error: unknown): Answer {
  if (isBrokenCircuitError(error)) {
    return {
      status: 503,
      body: { error: 'database_unavailable' },
      headers: { 'retry-after': '1' },
    };
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code === '40001')) {
    return { status: 503, body: { error: 'database_busy' }, headers: { 'retry-after': '1' } };
  }
  if (isTimeoutExceededError(error) || isAbortedError(error)) {
    return { status: 504, body: { error: 'database_timeout' } };
  }
  return { status: 500, body: { error: 'database_error' } };
}
