import { type ClassificationRule, causeChain, type ErrorCategory } from 'otel-resilience';

/** What a database error says about the failed work, beyond its category. */
export interface DatabaseFailure {
  readonly category: ErrorCategory;
  /** Whether a new attempt may succeed (the statement or transaction, as {@link scope} says). */
  readonly retryable: boolean;
  /** The driver's code: a SQLSTATE, a MySQL error number, a SQLite code, or a Knex/Node code. */
  readonly code: string;
  /**
   * What a retry must repeat: `statement` — the failed statement had no effect and may run again
   * on its own (outside a transaction); `transaction` — the transaction was rolled back and only a
   * re-run of the whole transaction helps (serialization failures, deadlocks); `none` — not
   * retryable.
   */
  readonly scope: 'statement' | 'transaction' | 'none';
  /** The connection is dead: evict it from the pool; a write in flight has an unknown outcome. */
  readonly connectionLost: boolean;
  /**
   * No connection could be made: refused, unreachable, shutting down or starting up, too many
   * connections, the pool's acquire timeout. Only these count towards the breaker opening: a
   * connection lost mid-query (a killed backend, a failover) says the server *was* up, and a pool
   * that loses every connection at once would otherwise open the breaker on a healthy database.
   */
  readonly unavailable: boolean;
  /** The driver refused the query before sending it (its connection was already known dead). */
  readonly neverSent: boolean;
}

function failure(
  category: ErrorCategory,
  code: string,
  scope: DatabaseFailure['scope'],
  flags: { connectionLost?: boolean; unavailable?: boolean; neverSent?: boolean } = {},
): DatabaseFailure {
  return {
    category,
    code,
    scope,
    retryable: scope !== 'none',
    connectionLost: flags.connectionLost ?? false,
    unavailable: flags.unavailable ?? false,
    neverSent: flags.neverSent ?? false,
  };
}

const CONNECTION_LOST = { connectionLost: true } as const;

/** PostgreSQL SQLSTATEs with a decision of their own (the rest go by class, below). */
const POSTGRES_CODES: Readonly<Record<string, DatabaseFailure>> = {
  '40001': failure('transient', '40001', 'transaction'), // serialization_failure
  '40P01': failure('transient', '40P01', 'transaction'), // deadlock_detected
  '55P03': failure('timeout', '55P03', 'statement'), // lock_not_available (lock_timeout)
  '57014': failure('timeout', '57014', 'statement'), // query_canceled (statement_timeout)
  '57P01': failure('transient', '57P01', 'statement', CONNECTION_LOST), // admin_shutdown
  '57P02': failure('transient', '57P02', 'statement', CONNECTION_LOST), // crash_shutdown
  '57P03': failure('transient', '57P03', 'statement', { unavailable: true }), // cannot_connect_now
  '53300': failure('system', '53300', 'statement', { unavailable: true }), // too_many_connections
  '53100': failure('system', '53100', 'none'), // disk_full
  '53200': failure('system', '53200', 'statement'), // out_of_memory
};

/** PostgreSQL SQLSTATE classes: 08 connection exception, 22/23/42 data, 28 authorization. */
function postgresByClass(code: string): DatabaseFailure | undefined {
  switch (code.slice(0, 2)) {
    case '08':
      // 08001 sqlclient_unable_to_establish_sqlconnection, 08004 server rejected the connection:
      // no connection was made; the rest of the class is a connection that broke.
      return code === '08001' || code === '08004'
        ? failure('transient', code, 'statement', { unavailable: true })
        : failure('transient', code, 'statement', CONNECTION_LOST);
    case '22':
    case '23':
    case '42':
    case '25': // invalid transaction state: follows another failure, never fixed by repeating
    case 'P0': // raised by a PL/pgSQL function
      return failure('data', code, 'none');
    case '28':
      return failure('configuration', code, 'none');
    case '53':
      return failure('system', code, 'none');
    default:
      return undefined;
  }
}

/**
 * Messages of node-postgres's own errors, which carry no code. Knex prefixes the SQL to a failed
 * query's message, so they are matched at the end of the message.
 */
const POSTGRES_LOST_MESSAGES = [
  'Connection terminated unexpectedly',
  'Connection terminated',
  'Connection terminated due to connection timeout',
];
/** node-postgres refuses a query on a connection it already knows is dead, without sending it. */
const POSTGRES_UNUSABLE_MESSAGES = [
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
];

/** MySQL/MariaDB error numbers with a decision of their own. */
const MYSQL_ERRNOS: Readonly<Record<number, DatabaseFailure>> = {
  1213: failure('transient', '1213', 'transaction'), // ER_LOCK_DEADLOCK
  1205: failure('timeout', '1205', 'statement'), // ER_LOCK_WAIT_TIMEOUT
  1317: failure('timeout', '1317', 'statement'), // ER_QUERY_INTERRUPTED
  3024: failure('timeout', '3024', 'statement'), // ER_QUERY_TIMEOUT (max_execution_time)
  1969: failure('timeout', '1969', 'statement'), // ER_STATEMENT_TIMEOUT (MariaDB)
  1040: failure('system', '1040', 'statement', { unavailable: true }), // ER_CON_COUNT_ERROR
  1203: failure('system', '1203', 'statement', { unavailable: true }), // ER_TOO_MANY_USER_CONNECTIONS
  1226: failure('system', '1226', 'statement', { unavailable: true }), // ER_USER_LIMIT_REACHED
  1053: failure('transient', '1053', 'statement', CONNECTION_LOST), // ER_SERVER_SHUTDOWN
  1927: failure('transient', '1927', 'statement', CONNECTION_LOST), // ER_CONNECTION_KILLED (MariaDB)
  1045: failure('configuration', '1045', 'none'), // ER_ACCESS_DENIED_ERROR
  1044: failure('configuration', '1044', 'none'), // ER_DBACCESS_DENIED_ERROR
  1142: failure('configuration', '1142', 'none'), // ER_TABLEACCESS_DENIED_ERROR
};

/** mysql2's own codes for a lost connection (no errno). */
const MYSQL_CLIENT_CODES = new Set([
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_CONNECTION_KILLED',
]);

function mysqlFailure(error: MysqlErrorLike): DatabaseFailure | undefined {
  const errno = error.errno;
  if (typeof errno === 'number' && errno > 0) {
    const known = MYSQL_ERRNOS[errno];
    if (known !== undefined) return known;
    const sqlState = typeof error.sqlState === 'string' ? error.sqlState : '';
    if (sqlState.startsWith('08')) {
      return failure('transient', String(errno), 'statement', CONNECTION_LOST);
    }
    if (sqlState.startsWith('28')) return failure('configuration', String(errno), 'none');
    if (errno >= 1000 && errno < 2000) {
      // Server errors not listed above: syntax, constraints, unknown columns and tables.
      return failure('data', String(errno), 'none');
    }
  }
  if (typeof error.code === 'string' && MYSQL_CLIENT_CODES.has(error.code)) {
    return failure('transient', error.code, 'statement', CONNECTION_LOST);
  }
  if (error.fatal === true) {
    return failure(
      'transient',
      typeof error.code === 'string' ? error.code : 'fatal',
      'statement',
      CONNECTION_LOST,
    );
  }
  return undefined;
}

/** SQLite result codes (better-sqlite3's `SqliteError.code`, extended codes included). */
function sqliteFailure(code: string): DatabaseFailure {
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return failure('transient', code, 'transaction');
  }
  if (code.startsWith('SQLITE_FULL') || code.startsWith('SQLITE_NOMEM')) {
    return failure('system', code, 'none');
  }
  if (
    code.startsWith('SQLITE_READONLY') ||
    code.startsWith('SQLITE_CANTOPEN') ||
    code.startsWith('SQLITE_AUTH') ||
    code.startsWith('SQLITE_PERM')
  ) {
    return failure('configuration', code, 'none');
  }
  return failure('data', code, 'none');
}

/** Node socket codes: refused or unresolvable before connecting, or reset on a live connection. */
const NODE_CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);
const NODE_LOST_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED']);

interface MysqlErrorLike {
  readonly code?: unknown;
  readonly errno?: unknown;
  readonly sqlState?: unknown;
  readonly fatal?: unknown;
}

/**
 * What one error (not its causes) says, when it comes from a database driver, Knex or the socket
 * under them; `undefined` for anything else (the user's own errors are never retried by the
 * plugin). Decided by codes, never by messages Knex prefixes with SQL — except node-postgres's
 * code-less client errors, matched at the end of the message.
 */
export function databaseFailureOf(error: unknown): DatabaseFailure | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, name } = error as { code?: unknown; name?: unknown };
  if (name === 'KnexTimeoutError') {
    // An acquire timeout keeps tarn's TimeoutError (whose name is plain "Error") as its cause; a
    // query's .timeout() has none.
    const cause = (error as { cause?: unknown }).cause;
    const acquiring =
      typeof cause === 'object' && cause !== null && cause.constructor?.name === 'TimeoutError';
    return acquiring
      ? failure('timeout', 'acquire_timeout', 'statement', { unavailable: true })
      : failure('timeout', 'query_timeout', 'statement');
  }
  if (typeof code === 'string') {
    if (code.startsWith('SQLITE_')) return sqliteFailure(code);
    if (NODE_CONNECT_CODES.has(code)) {
      return failure('transient', code, 'statement', { unavailable: true });
    }
    if (NODE_LOST_CODES.has(code)) return failure('transient', code, 'statement', CONNECTION_LOST);
    if (
      /^[0-9A-Z]{5}$/.test(code) &&
      typeof (error as { severity?: unknown }).severity === 'string'
    ) {
      return POSTGRES_CODES[code] ?? postgresByClass(code) ?? failure('unknown', code, 'none');
    }
  }
  const mysql = mysqlFailure(error as MysqlErrorLike);
  if (mysql !== undefined) return mysql;
  const message = (error as { message?: unknown }).message;
  if (typeof message === 'string') {
    if (POSTGRES_LOST_MESSAGES.some((m) => message.endsWith(m))) {
      return failure('transient', 'connection_terminated', 'statement', CONNECTION_LOST);
    }
    if (POSTGRES_UNUSABLE_MESSAGES.some((m) => message.endsWith(m))) {
      return failure('transient', 'connection_unusable', 'statement', {
        ...CONNECTION_LOST,
        neverSent: true,
      });
    }
  }
  return undefined;
}

/** {@link databaseFailureOf} for the first error of `error`'s cause chain it recognises. */
export function databaseFailureIn(error: unknown): DatabaseFailure | undefined {
  for (const candidate of causeChain(error)) {
    const found = databaseFailureOf(candidate);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * The plugin's classification rule: database failures get their category, retryability and code
 * (as `error.type`). Registered on the plugin's own classifier, before the engine's built-ins.
 */
export const databaseErrorRule: ClassificationRule = (error) => {
  const found = databaseFailureOf(error);
  return found === undefined
    ? undefined
    : { category: found.category, retryable: found.retryable, errorType: found.code };
};
