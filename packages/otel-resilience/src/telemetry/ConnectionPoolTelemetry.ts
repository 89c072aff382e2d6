import { type Attributes, diag } from '@opentelemetry/api';
import type { Disposable } from '../Disposable.js';
import { checkFunction, checkInteger, checkName, checkRatio } from '../validate.js';
import {
  ATTR_DB_CLIENT_CONNECTION_POOL_NAME,
  ATTR_DB_CLIENT_CONNECTION_STATE,
  ATTR_DB_SYSTEM_NAME,
  type DbConnectionState,
} from './attributes.js';
import {
  type CounterSeries,
  counterSeries,
  instruments,
  observeReading,
  recordHistogram,
} from './metrics.js';

/** What a pool holds at one instant: the values of its gauges. */
export interface ConnectionPoolState {
  /** Connections lent to callers (`db.client.connection.count`, state `used`). */
  readonly used: number;
  /** Open connections free in the pool (`db.client.connection.count`, state `idle`). */
  readonly idle: number;
  /** Requests waiting for a connection (`db.client.connection.pending_requests`). */
  readonly pending: number;
}

/** The options of a {@link ConnectionPoolTelemetry} that do not depend on the pool itself. */
export interface ConnectionPoolIdentity {
  /**
   * `db.client.connection.pool.name`: a non-empty string of at most 128 characters, unique per
   * pool in the process (pools sharing a name are summed). Required.
   */
  readonly poolName: string;
  /**
   * `db.system.name`: the database product as the semantic conventions name it (`postgresql`,
   * `mysql`, `mariadb`, `sqlite`, `microsoft.sql_server`, …); non-empty, at most 128 characters.
   * Required.
   */
  readonly dbSystem: string;
  /**
   * Share of `max` in use, in (0, 1], at which a pool-exhaustion warning is counted (and logged):
   * once each time the pool rises to it, re-armed when a later check finds it below. Default 0.8
   * (seed 001's "warns on potential pool exhaustion").
   */
  readonly exhaustionThreshold?: number;
}

/** Options of a {@link ConnectionPoolTelemetry}. */
export interface ConnectionPoolTelemetryOptions extends ConnectionPoolIdentity {
  /** Most connections the pool may open, an integer ≥ 1 (`db.client.connection.max`). Required. */
  readonly max: number;
  /**
   * Reads the pool's state at collection time: called once per gauge series (three times per
   * collection), so it must be cheap and synchronous. Required.
   */
  readonly source: () => ConnectionPoolState;
}

/**
 * The OpenTelemetry DB-semantic-convention metrics of one connection pool, for an adapter to feed
 * from its pool's events: `db.client.connection.count` (by state), `.max` and
 * `.pending_requests` read from `source` at collection time; `.wait_time` and `.timeouts`
 * recorded by the adapter; `resilience.db.pool.exhaustion_warnings` counted by
 * {@link checkExhaustion}. All carry `db.client.connection.pool.name` and `db.system.name`.
 *
 * Dispose it when the pool is destroyed: its gauges then stop reporting (the counters keep their
 * totals, process-wide per pool name, so a pool re-created under the same name continues them).
 */
export class ConnectionPoolTelemetry implements Disposable {
  /** `db.client.connection.pool.name`. */
  readonly poolName: string;
  /** `db.system.name`. */
  readonly dbSystem: string;
  /** Most connections the pool may open. */
  readonly max: number;
  /** Share of `max` in use at which an exhaustion warning is counted. */
  readonly exhaustionThreshold: number;

  private readonly attributes: Attributes;
  private readonly timeouts: CounterSeries;
  private readonly warnings: CounterSeries;
  private readonly readings: Disposable[];
  private armed = true;
  private disposed = false;

  /**
   * Checks the options that do not depend on the pool, so that an adapter whose pool is created
   * later can reject a bad configuration when it is written, not when the pool appears.
   * @throws TypeError naming the first invalid option
   */
  static checkIdentity(options: ConnectionPoolIdentity): void {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError(`options must be an object, got ${String(options)}`);
    }
    checkName('poolName', options.poolName);
    checkName('dbSystem', options.dbSystem);
    if (options.exhaustionThreshold !== undefined) {
      checkRatio('exhaustionThreshold', options.exhaustionThreshold);
    }
  }

  /** @throws TypeError naming the first invalid option */
  constructor(options: ConnectionPoolTelemetryOptions) {
    ConnectionPoolTelemetry.checkIdentity(options);
    this.poolName = options.poolName;
    this.dbSystem = options.dbSystem;
    this.max = checkInteger('max', options.max, 1);
    this.exhaustionThreshold = options.exhaustionThreshold ?? 0.8;
    checkFunction('source', options.source);
    const source = options.source;

    this.attributes = Object.freeze({
      [ATTR_DB_CLIENT_CONNECTION_POOL_NAME]: this.poolName,
      [ATTR_DB_SYSTEM_NAME]: this.dbSystem,
    });
    this.timeouts = counterSeries('dbConnectionTimeouts', this.attributes);
    this.warnings = counterSeries('dbPoolExhaustionWarnings', this.attributes);
    const byState = (state: DbConnectionState) => ({
      ...this.attributes,
      [ATTR_DB_CLIENT_CONNECTION_STATE]: state,
    });
    const max = this.max;
    this.readings = [
      observeReading('dbConnectionCount', byState('used'), () => source().used),
      observeReading('dbConnectionCount', byState('idle'), () => source().idle),
      observeReading('dbConnectionPendingRequests', this.attributes, () => source().pending),
      observeReading('dbConnectionMax', this.attributes, () => max),
    ];
  }

  /**
   * Whether {@link recordWait} records anything: false while no OpenTelemetry SDK is registered,
   * so an adapter can skip reading the clock for every acquire.
   */
  get recordsWaits(): boolean {
    return !this.disposed && instruments().recording;
  }

  /**
   * Records how long a request waited for the connection it got (`db.client.connection.wait_time`),
   * in seconds ≥ 0, from a monotonic clock. Requests that failed to get one are not recorded.
   */
  recordWait(seconds: number): void {
    if (!this.disposed) recordHistogram('dbConnectionWaitTime', seconds, this.attributes);
  }

  /** Counts a request that timed out waiting for a connection (`db.client.connection.timeouts`). */
  countTimeout(): void {
    if (!this.disposed) this.timeouts.add();
  }

  /**
   * Checks the pool with `used` connections lent out (call it after each acquire): when
   * `used / max` has risen to `exhaustionThreshold` or above since the last check below it,
   * counts `resilience.db.pool.exhaustion_warnings` and logs one `diag.warn` line with the pool
   * name and `used/max`. Checking only on acquires debounces a pool that hovers at the threshold.
   */
  checkExhaustion(used: number): void {
    if (this.disposed) return;
    if (!(used / this.max >= this.exhaustionThreshold)) {
      this.armed = true;
      return;
    }
    if (!this.armed) return;
    this.armed = false;
    this.warnings.add();
    diag.warn(
      `otel-resilience: connection pool "${this.poolName}" near exhaustion: ${used}/${this.max} connections in use`,
    );
  }

  /** Stops the pool's gauges reporting and ignores further records. Calling it twice is harmless. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const reading of this.readings) reading.dispose();
  }
}
