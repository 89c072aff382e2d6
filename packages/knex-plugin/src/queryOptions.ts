/** Per-query settings attached to a builder with {@link withQueryOptions}. */
export interface QueryOptions {
  /**
   * The statement may run twice without harm (an upsert, an update setting absolute values, an
   * insert with a unique idempotency key): it is retried even when its connection dropped after
   * it was sent. Default `false` for writes (reads are always repeatable).
   */
  readonly idempotent?: boolean;
  /** `false`: run once, never retried by the plugin. Default `true`. */
  readonly retry?: boolean;
  /**
   * `false`: the query bypasses the database's circuit breaker — never refused while it is open,
   * never counted by it. For probes that must reach the database whatever the breaker says (a
   * readiness check; the plugin's own commit verification). Default `true`.
   */
  readonly circuitBreaker?: boolean;
}

const QUERY_OPTIONS = Symbol.for('otel-resilience-knex.queryOptions');

/**
 * Attaches per-query settings to a Knex query builder or raw query and returns it, to await as
 * usual: `await withQueryOptions(db('jobs').update({ state: 'done' }).where({ id }), { idempotent: true })`.
 */
export function withQueryOptions<B extends object>(builder: B, options: QueryOptions): B {
  if (typeof builder !== 'object' || builder === null) {
    throw new TypeError(`withQueryOptions() needs a query builder, got ${String(builder)}`);
  }
  for (const key of ['idempotent', 'retry', 'circuitBreaker'] as const) {
    const value = options?.[key];
    if (value !== undefined && typeof value !== 'boolean') {
      throw new TypeError(`withQueryOptions: ${key} must be a boolean, got ${String(value)}`);
    }
  }
  (builder as Record<symbol, QueryOptions>)[QUERY_OPTIONS] = { ...options };
  return builder;
}

/** The settings attached to `builder`, or none. */
export function queryOptionsOf(builder: unknown): QueryOptions {
  return (builder as Record<symbol, QueryOptions | undefined>)[QUERY_OPTIONS] ?? NO_OPTIONS;
}

const NO_OPTIONS: QueryOptions = Object.freeze({});
