import type { Knex } from 'knex';
import type { CircuitBreakerPolicy } from 'otel-resilience';
import { type AtomicUpdateOptions, atomicUpdate } from './atomicUpdate.js';
import {
  type BeginTransaction,
  KnexResilience,
  type ResilientTransactionConfig,
} from './KnexResilience.js';
import { type KnexResilienceOptions, resolveKnexOptions } from './options.js';
import { attachPoolTelemetry } from './poolTelemetry.js';
import { installQueryHook } from './queryHook.js';
import {
  type BulkInsertResult,
  type SafeBulkInsertOptions,
  safeBulkInsert,
} from './safeBulkInsert.js';
import { installPing } from './validateOnAcquire.js';

/** What {@link withResilience} adds to a Knex instance. */
export interface KnexResilienceHandle {
  /** The database's circuit breaker (state, snapshots, `isolate()`); `undefined` when disabled. */
  readonly breaker: CircuitBreakerPolicy | undefined;
  /** Removes the plugin: queries and transactions run as plain Knex again. */
  dispose(): void;
}

/** A Knex instance with the plugin enabled: use it exactly as before. */
export type ResilientKnex<K extends Knex = Knex> = K & {
  /**
   * Runs `fn` in a transaction and re-runs it whole, on a fresh connection, after serialization
   * failures, deadlocks and connections lost before COMMIT (see the README). Without a callback,
   * Knex's own transaction provider is returned unchanged.
   */
  transaction<T>(
    fn: (trx: Knex.Transaction) => Promise<T> | T,
    config?: ResilientTransactionConfig,
  ): Promise<T>;
  /** {@link atomicUpdate} on this instance. */
  atomicUpdate<Row>(
    table: string,
    where: Record<string, unknown>,
    update: Partial<Row> | ((current: Row) => Partial<Row> | Promise<Partial<Row>>),
    options: AtomicUpdateOptions,
  ): Promise<Row>;
  /** {@link safeBulkInsert} on this instance. */
  safeBulkInsert<Row extends object>(
    table: string,
    rows: readonly Row[],
    options?: SafeBulkInsertOptions,
  ): Promise<BulkInsertResult<Row>>;
  readonly resilience: KnexResilienceHandle;
};

/** The methods {@link withResilience} adds besides `resilience`. */
const HELPERS = ['atomicUpdate', 'safeBulkInsert'] as const;

const ENABLED = Symbol.for('otel-resilience-knex.enabled');

/**
 * Enables the plugin on an existing Knex instance and returns it: every query built on it is
 * retried where that is safe, `transaction(fn)` re-runs whole transactions, dead connections are
 * evicted, and the database gets a circuit breaker and pool telemetry.
 *
 * @throws TypeError naming the option when an option is invalid, or when the instance already
 * has the plugin.
 */
export function withResilience<K extends Knex>(
  knex: K,
  options?: KnexResilienceOptions,
): ResilientKnex<K> {
  if (typeof knex !== 'function' || typeof (knex as { client?: unknown }).client !== 'object') {
    throw new TypeError(`withResilience() needs a Knex instance, got ${String(knex)}`);
  }
  const target = knex as unknown as Knex & Record<symbol, unknown>;
  if (target[ENABLED] !== undefined) {
    throw new TypeError('withResilience(): this Knex instance already has the plugin enabled');
  }
  const clientName = String(
    (knex.client as { config?: { client?: unknown } }).config?.client ?? '',
  );
  const resolved = resolveKnexOptions(options, clientName);
  const ownTransaction = Object.getOwnPropertyDescriptor(target, 'transaction');
  const originalTransaction = target.transaction;
  const begin: BeginTransaction = (container, config) =>
    originalTransaction.call(target, container, config) as Promise<unknown>;
  const resilience = new KnexResilience(target, resolved, begin);

  const removeHook = installQueryHook(target, (builder, attempt) =>
    resilience.executeQuery(builder, attempt),
  );
  const ping =
    resolved.pingTimeoutMs === undefined ? undefined : installPing(target, resolved.pingTimeoutMs);
  const poolTelemetry =
    resolved.exhaustionThreshold === undefined
      ? undefined
      : attachPoolTelemetry(target, {
          poolName: resolved.poolName,
          dbSystem: resolved.dbSystem,
          exhaustionThreshold: resolved.exhaustionThreshold,
        });

  Object.defineProperty(target, 'transaction', {
    configurable: true,
    writable: true,
    value: function transaction(this: unknown, fn?: unknown, config?: unknown) {
      // Without a callback Knex returns a transaction the caller drives itself: nothing to re-run.
      if (fn === undefined || (typeof fn === 'object' && fn !== null)) {
        return originalTransaction.call(target, fn as never, config as never);
      }
      return resilience.transaction(fn as never, config as ResilientTransactionConfig);
    },
  });

  const handle: KnexResilienceHandle = {
    breaker: resilience.breaker,
    dispose() {
      removeHook();
      ping?.dispose();
      poolTelemetry?.dispose();
      if (ownTransaction === undefined) delete (target as Partial<Knex>).transaction;
      else Object.defineProperty(target, 'transaction', ownTransaction);
      delete target[ENABLED];
      delete (target as { resilience?: unknown }).resilience;
      for (const helper of HELPERS)
        delete (target as unknown as Partial<Record<string, unknown>>)[helper];
      resilience.dispose();
    },
  };
  target[ENABLED] = resilience;
  Object.defineProperty(target, 'resilience', { configurable: true, value: handle });
  Object.defineProperties(target, {
    atomicUpdate: {
      configurable: true,
      value: (...args: Parameters<ResilientKnex['atomicUpdate']>) => atomicUpdate(target, ...args),
    },
    safeBulkInsert: {
      configurable: true,
      value: (...args: Parameters<ResilientKnex['safeBulkInsert']>) =>
        safeBulkInsert(target, ...args),
    },
  });
  return target as unknown as ResilientKnex<K>;
}
