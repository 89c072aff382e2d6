import type { Knex } from 'knex';
import { ConnectionPoolTelemetry, type Disposable } from 'otel-resilience';
import { followPool, type TarnPool } from './followPool.js';

/** Options of {@link attachPoolTelemetry}. */
export interface PoolTelemetryOptions {
  /**
   * `db.client.connection.pool.name`: a non-empty string of at most 128 characters, unique per
   * Knex instance in the process (pools sharing a name are summed). Required.
   */
  readonly poolName: string;
  /**
   * `db.system.name` as the semantic conventions name it: `postgresql`, `mysql`, `mariadb`,
   * `sqlite`, `microsoft.sql_server`, … Required.
   */
  readonly dbSystem: string;
  /**
   * Share of the pool's `max` in use, in (0, 1], at which an acquire counts
   * `resilience.db.pool.exhaustion_warnings` and logs a `diag.warn` line; re-armed when a later
   * acquire finds the pool below it. Default 0.8.
   */
  readonly exhaustionThreshold?: number;
}

// tarn's TimeoutError sets no `name` (it reads 'Error'), so its class name is checked as well.
const isTimeoutError = (error: unknown): boolean =>
  error instanceof Error &&
  (error.name === 'TimeoutError' || error.constructor.name === 'TimeoutError');

const attached = new WeakSet<object>();

/**
 * Reports the connection pool of `knex` with the OpenTelemetry DB semantic conventions, through
 * the engine's {@link ConnectionPoolTelemetry}: `db.client.connection.count` (idle/used),
 * `db.client.connection.max` and `db.client.connection.pending_requests` read from the pool at
 * collection time; `db.client.connection.wait_time` (from the acquire request to the connection,
 * on a monotonic clock, for acquires that succeed); `db.client.connection.timeouts` (acquires that
 * timed out; the caller still gets Knex's `KnexTimeoutError`); and
 * `resilience.db.pool.exhaustion_warnings`, checked at each successful acquire.
 *
 * Follows the pool through its life: a Knex instance made without a connection, or destroyed and
 * then initialized again (`knex.initialize()`), is reported from the moment its pool exists, and
 * `knex.destroy()` (or destroying the pool) removes its gauges at once. Only tarn pools, which
 * Knex creates itself, can be observed; for another pool it logs a `diag.warn` line and reports
 * nothing. Attach once per Knex instance.
 *
 * @returns `dispose()` detaches everything (the wrapped client methods included)
 * @throws TypeError naming an invalid option; Error when telemetry is already attached to `knex`
 */
export function attachPoolTelemetry(knex: Knex, options: PoolTelemetryOptions): Disposable {
  ConnectionPoolTelemetry.checkIdentity(options);
  const identity: PoolTelemetryOptions = {
    poolName: options.poolName,
    dbSystem: options.dbSystem,
    ...(options.exhaustionThreshold === undefined
      ? {}
      : { exhaustionThreshold: options.exhaustionThreshold }),
  };
  const client = knex.client as object;
  if (attached.has(client)) {
    throw new Error(
      `pool telemetry is already attached to this knex instance; dispose it before attaching "${identity.poolName}"`,
    );
  }
  attached.add(client);

  const following = followPool(knex, 'pool telemetry', (pool) => watchPool(pool, identity));
  let disposed = false;
  return {
    dispose: () => {
      if (disposed) return;
      disposed = true;
      following.dispose();
      attached.delete(client);
    },
  };
}

/** Feeds one tarn pool's events into a new {@link ConnectionPoolTelemetry} until disposed. */
function watchPool(pool: TarnPool, identity: PoolTelemetryOptions): Disposable {
  const telemetry = new ConnectionPoolTelemetry({
    ...identity,
    max: pool.max,
    source: () => ({
      used: pool.numUsed(),
      idle: pool.numFree(),
      pending: pool.numPendingAcquires(),
    }),
  });
  // Acquire requests in flight, by tarn event id: performance.now() of the request.
  const requestedAt = new Map<number, number>();
  const listeners: Record<string, (...args: never[]) => void> = {
    acquireRequest: (eventId: number) => {
      if (telemetry.recordsWaits) requestedAt.set(eventId, performance.now());
    },
    acquireSuccess: (eventId: number) => {
      const start = requestedAt.get(eventId);
      if (start !== undefined) {
        requestedAt.delete(eventId);
        telemetry.recordWait((performance.now() - start) / 1000);
      }
      telemetry.checkExhaustion(pool.numUsed());
    },
    acquireFail: (eventId: number, error: unknown) => {
      requestedAt.delete(eventId);
      if (isTimeoutError(error)) telemetry.countTimeout();
    },
  };
  for (const [event, listener] of Object.entries(listeners)) pool.on(event, listener);
  return {
    dispose: () => {
      for (const [event, listener] of Object.entries(listeners)) {
        pool.removeListener(event, listener);
      }
      requestedAt.clear();
      telemetry.dispose();
    },
  };
}
