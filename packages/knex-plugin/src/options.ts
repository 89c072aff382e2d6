import type { CircuitBreakerOptions, ClassificationRule, RetryOptions } from 'otel-resilience';

/** Retry options the plugin accepts (it supplies the name, classifier and attributes itself). */
export type KnexRetryOptions = Omit<RetryOptions, 'name' | 'classifier' | 'attributes'>;

/** Breaker options the plugin accepts (it supplies the name, classifier and failure predicate). */
export type KnexCircuitBreakerOptions = Omit<
  CircuitBreakerOptions,
  'name' | 'classifier' | 'attributes' | 'isFailure'
>;

/** Options of {@link withResilience}. */
export interface KnexResilienceOptions {
  /**
   * `resilience.name` of the query pipeline; transactions report `<name>.transaction`. Keep it
   * low-cardinality (the database's role: `orders-db`). Default `'knex'`.
   */
  readonly name?: string;
  /**
   * `db.system.name`. Default from the Knex client: `postgresql`, `mysql` (also for MariaDB:
   * set `'mariadb'` to say so), `sqlite`, `mssql`, `oracle.db`, else the client name.
   */
  readonly dbSystem?: string;
  /** `db.client.connection.pool.name` of the pool metrics. Default: `name`. */
  readonly poolName?: string;
  /**
   * Retry of single queries outside transactions: reads and failures before the query reached
   * the server are retried; writes only when the server rejected them whole (see the README).
   * `false`: no query retry. Default `{ maxAttempts: 3 }` with the decision matrix's backoffs.
   */
  readonly retry?: KnexRetryOptions | false;
  /**
   * Re-runs of whole transactions run through `transaction(fn)`: serialization failures,
   * deadlocks, connections lost before COMMIT. `false`: never re-run. Default `{ maxAttempts: 3 }`.
   * A call's own `maxAttempts` (second argument of `transaction`) overrides it.
   */
  readonly transactionRetry?: KnexRetryOptions | false;
  /**
   * The database's circuit breaker: opens when the database keeps being unreachable (refused or
   * acquire timeouts, too many connections, shutting down) and then fails calls at once with
   * `BrokenCircuitError`. Connections lost mid-query, deadlocks, constraint violations and other
   * answers never count: the server was up. `false`: none. Default: five consecutive failures,
   * half-open after 1 s.
   */
  readonly circuitBreaker?: KnexCircuitBreakerOptions | false;
  /**
   * PostgreSQL: when the connection is lost while COMMIT is in flight, ask the database (by
   * transaction id, `txid_status`) whether it committed, instead of failing with
   * `UnknownCommitOutcomeError`. Costs one round trip before each COMMIT of a transaction that
   * wrote. Default `true` on PostgreSQL; other databases cannot be asked.
   */
  readonly verifyCommits?: boolean;
  /**
   * Ping (`select 1`) every pooled connection when it is acquired and replace it when the ping
   * fails or takes longer than `timeoutMs`: catches connections that died silently (a firewall's
   * idle timeout). Costs one round trip per acquire. Default `false`: connections that reported
   * an error are evicted without a ping.
   */
  readonly validateOnAcquire?: boolean | { readonly timeoutMs?: number };
  /**
   * Connection-pool metrics (`db.client.connection.*`) and the exhaustion warning, emitted when
   * used/max crosses `exhaustionThreshold` (0–1). `false`: none. Default `{ exhaustionThreshold: 0.8 }`.
   */
  readonly poolTelemetry?: boolean | { readonly exhaustionThreshold?: number };
  /** Extra classification rules, consulted before the plugin's database rules. Default none. */
  readonly rules?: readonly ClassificationRule[];
}

/** Options as the plugin uses them, defaults applied and checked. */
export interface ResolvedKnexOptions {
  readonly name: string;
  readonly transactionName: string;
  readonly dbSystem: string;
  readonly poolName: string;
  readonly retry: KnexRetryOptions | false;
  readonly transactionRetry: KnexRetryOptions | false;
  readonly circuitBreaker: KnexCircuitBreakerOptions | false;
  readonly verifyCommits: boolean;
  /** Ping timeout in milliseconds, or `undefined` for no ping. */
  readonly pingTimeoutMs: number | undefined;
  readonly exhaustionThreshold: number | undefined;
  readonly rules: readonly ClassificationRule[];
}

const KNOWN_OPTIONS = new Set([
  'name',
  'dbSystem',
  'poolName',
  'retry',
  'transactionRetry',
  'circuitBreaker',
  'verifyCommits',
  'validateOnAcquire',
  'poolTelemetry',
  'rules',
]);

/** Default ping timeout of `validateOnAcquire` (ms). */
export const DEFAULT_PING_TIMEOUT_MS = 1_000;
/**
 * Default open period of the database breaker (ms): a restarting database is back in seconds, and
 * a trial every second costs one connection attempt.
 */
export const DEFAULT_HALF_OPEN_AFTER_MS = 1_000;

const show = (value: unknown): string =>
  typeof value === 'string' ? JSON.stringify(value) : String(value);

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function checkName(option: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 100) {
    throw new TypeError(
      `${option} must be a non-empty string of at most 100 characters, got ${show(value)}`,
    );
  }
  return value;
}

function checkPolicyOptions<T>(
  option: string,
  value: unknown,
  reserved: readonly string[],
): T | false {
  if (value === false) return false;
  if (!isObject(value))
    throw new TypeError(`${option} must be an object or false, got ${show(value)}`);
  for (const key of reserved) {
    if (key in value)
      throw new TypeError(`${option}.${key} is set by the plugin and cannot be given`);
  }
  return value as T;
}

/** `db.system.name` of a Knex client name (`pg`, `mysql2`, `better-sqlite3`, ...). */
export function dbSystemOf(clientName: string): string {
  if (/^(pg|postgres|postgresql|pgnative|cockroachdb|redshift)$/.test(clientName)) {
    return clientName === 'cockroachdb' ? 'cockroachdb' : 'postgresql';
  }
  if (/^mysql2?$/.test(clientName)) return 'mysql';
  if (/sqlite/.test(clientName)) return 'sqlite';
  if (clientName === 'mssql') return 'microsoft.sql_server';
  if (/^oracle/.test(clientName)) return 'oracle.db';
  return clientName;
}

/** Applies defaults and checks every option; throws a `TypeError` naming the bad one. */
export function resolveKnexOptions(
  options: KnexResilienceOptions | undefined,
  clientName: string,
): ResolvedKnexOptions {
  if (options !== undefined && !isObject(options)) {
    throw new TypeError(`options must be an object, got ${show(options)}`);
  }
  const given: KnexResilienceOptions = options ?? {};
  for (const key of Object.keys(given)) {
    if (!KNOWN_OPTIONS.has(key)) throw new TypeError(`unknown option ${show(key)}`);
  }
  const name = given.name === undefined ? 'knex' : checkName('name', given.name);
  const dbSystem =
    given.dbSystem === undefined ? dbSystemOf(clientName) : checkName('dbSystem', given.dbSystem);
  const poolName = given.poolName === undefined ? name : checkName('poolName', given.poolName);
  const retry =
    given.retry === undefined
      ? {}
      : checkPolicyOptions<KnexRetryOptions>('retry', given.retry, [
          'name',
          'classifier',
          'attributes',
        ]);
  const transactionRetry =
    given.transactionRetry === undefined
      ? {}
      : checkPolicyOptions<KnexRetryOptions>('transactionRetry', given.transactionRetry, [
          'name',
          'classifier',
          'attributes',
        ]);
  const circuitBreaker =
    given.circuitBreaker === undefined
      ? {}
      : checkPolicyOptions<KnexCircuitBreakerOptions>('circuitBreaker', given.circuitBreaker, [
          'name',
          'classifier',
          'attributes',
          'isFailure',
        ]);
  if (given.verifyCommits !== undefined && typeof given.verifyCommits !== 'boolean') {
    throw new TypeError(`verifyCommits must be a boolean, got ${show(given.verifyCommits)}`);
  }
  return {
    name,
    transactionName: `${name}.transaction`,
    dbSystem,
    poolName,
    retry,
    transactionRetry,
    circuitBreaker:
      circuitBreaker === false
        ? false
        : { halfOpenAfterMs: DEFAULT_HALF_OPEN_AFTER_MS, ...circuitBreaker },
    verifyCommits: (given.verifyCommits ?? true) && dbSystem === 'postgresql',
    pingTimeoutMs: pingTimeoutOf(given.validateOnAcquire),
    exhaustionThreshold: exhaustionThresholdOf(given.poolTelemetry),
    rules: rulesOf(given.rules),
  };
}

function pingTimeoutOf(value: KnexResilienceOptions['validateOnAcquire']): number | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return DEFAULT_PING_TIMEOUT_MS;
  if (!isObject(value)) {
    throw new TypeError(`validateOnAcquire must be a boolean or { timeoutMs }, got ${show(value)}`);
  }
  const timeoutMs = value.timeoutMs ?? DEFAULT_PING_TIMEOUT_MS;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new TypeError(
      `validateOnAcquire.timeoutMs must be a positive number, got ${show(timeoutMs)}`,
    );
  }
  return timeoutMs;
}

function exhaustionThresholdOf(value: KnexResilienceOptions['poolTelemetry']): number | undefined {
  if (value === false) return undefined;
  if (value === undefined || value === true) return 0.8;
  if (!isObject(value)) {
    throw new TypeError(
      `poolTelemetry must be a boolean or { exhaustionThreshold }, got ${show(value)}`,
    );
  }
  const threshold = value.exhaustionThreshold ?? 0.8;
  if (typeof threshold !== 'number' || !(threshold > 0 && threshold <= 1)) {
    throw new TypeError(
      `poolTelemetry.exhaustionThreshold must be a number in (0, 1], got ${show(threshold)}`,
    );
  }
  return threshold;
}

function rulesOf(value: unknown): readonly ClassificationRule[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((rule) => typeof rule !== 'function')) {
    throw new TypeError(`rules must be an array of functions, got ${show(value)}`);
  }
  return value as ClassificationRule[];
}
