import type { Knex } from 'knex';
import {
  type Backoff,
  type ClassificationRule,
  Classifier,
  decorrelatedJitterBackoff,
  type RetryPolicy,
  retry,
} from 'otel-resilience';
import { databaseErrorRule } from './databaseErrors.js';
import { isOptimisticLockConflictError, OptimisticLockConflictError } from './errors.js';

/** Options of {@link atomicUpdate}. */
export interface AtomicUpdateOptions {
  /**
   * The row's version: an integer column (a bigint too) that every writer of the row bumps by 1.
   * `atomicUpdate` reads it, updates only while it still holds that value, and sets it to value + 1.
   * Required.
   */
  readonly versionColumn: string;
  /**
   * Attempts at most (read + conditional update each), the first included: an integer ≥ 1.
   * Default {@link DEFAULT_ATOMIC_UPDATE_MAX_ATTEMPTS} (5).
   */
  readonly maxAttempts?: number;
  /**
   * Waits between an attempt that found the row changed and the next one. Default
   * {@link DEFAULT_ATOMIC_UPDATE_BACKOFF} (decorrelated jitter, 10–200 ms).
   */
  readonly backoff?: Backoff;
}

/** Default {@link AtomicUpdateOptions.maxAttempts}. */
export const DEFAULT_ATOMIC_UPDATE_MAX_ATTEMPTS = 5;

/**
 * Default {@link AtomicUpdateOptions.backoff}: decorrelated jitter from 10 ms, capped at 200 ms.
 * Writers that collided on a row spread apart at once, and a row changes in milliseconds, so
 * longer waits only add latency.
 */
export const DEFAULT_ATOMIC_UPDATE_BACKOFF: Backoff = decorrelatedJitterBackoff({
  initialDelayMs: 10,
  maxDelayMs: 200,
});

/** `resilience.name` of the retry policy of {@link atomicUpdate} (its spans and metrics). */
export const ATOMIC_UPDATE_POLICY_NAME = 'knex.atomic_update';

/**
 * Classifies {@link OptimisticLockConflictError}: a `conflict` is `transient` (another attempt, on
 * a fresh read, may win) with `error.type` `version_conflict`; `not_found` is `data`, not
 * retryable. Add it to your own classifier's rules to classify the error where it surfaces.
 */
export const optimisticLockConflictRule: ClassificationRule = (error) => {
  if (!isOptimisticLockConflictError(error)) return undefined;
  return error.reason === 'conflict'
    ? { category: 'transient', retryable: true, errorType: 'version_conflict' }
    : { category: 'data', retryable: false, errorType: 'not_found' };
};

const classifier = new Classifier({ rules: [optimisticLockConflictRule, databaseErrorRule] });

/** The computed changes of one attempt. */
type Changes = Record<string, unknown>;

/**
 * Updates the one row of `table` matching `where` without losing a concurrent writer's update
 * (optimistic locking): each attempt reads the row, computes the changes (a function `update` gets
 * the freshly read row), and updates the row only if its `versionColumn` still holds the value
 * read, setting it to value + 1. When another writer got there first, nothing is written and the
 * attempt starts over, after `backoff`, from a fresh read. The attempts run under the engine's
 * retry policy `knex.atomic_update`, so they appear in its spans and metrics.
 *
 * Every writer of the row must bump the version (use `atomicUpdate` for all of them) for conflicts
 * to be seen. Pass a transaction as `db` to update within it: on MySQL/MariaDB, where a
 * REPEATABLE READ transaction keeps reading its own snapshot, the re-reads after a conflict are
 * locking reads (`LOCK IN SHARE MODE`) so that they see the version that beat them.
 *
 * @param db A Knex instance (with or without {@link withResilience}) or a transaction.
 * @param where Column/value pairs identifying exactly one row (its primary key, typically); must
 *   not include `versionColumn`.
 * @param update The changes, or a function of the current row returning them (sync or async;
 *   called once per attempt). Neither may set `versionColumn`. A function returning no change
 *   (`{}`) writes nothing and resolves with the row as read.
 * @returns The updated row: as the database returned it on PostgreSQL and SQLite (`RETURNING *`);
 *   elsewhere (MySQL/MariaDB) the row as read with the changes and new version merged in, so
 *   values the database computes on update (triggers, `ON UPDATE` columns) are not reflected.
 * @throws TypeError naming the bad argument, before any query; also when `where` matches more than
 *   one row, or the row's version is not an integer.
 * @throws OptimisticLockConflictError `not_found` at once when no row matches `where`; `conflict`
 *   when the version moved under every one of `maxAttempts` attempts. Error messages name the
 *   table and columns, never a value.
 */
export async function atomicUpdate<Row>(
  db: Knex | Knex.Transaction,
  table: string,
  where: Record<string, unknown>,
  update: Partial<Row> | ((current: Row) => Partial<Row> | Promise<Partial<Row>>),
  options: AtomicUpdateOptions,
): Promise<Row> {
  const { versionColumn, maxAttempts, backoff } = checkArguments(db, table, where, update, options);
  const dialect = String((db.client as { dialect?: unknown }).dialect ?? '');
  const target: Target = {
    db,
    table,
    where,
    versionColumn,
    returning: RETURNING_DIALECTS.has(dialect),
    // A REPEATABLE READ snapshot would show the version that lost, again and again.
    lockingReread:
      dialect === 'mysql' && (db as { isTransaction?: unknown }).isTransaction === true,
  };
  return policyFor(maxAttempts, backoff).execute((context) =>
    attemptUpdate(target, update as Partial<Row> | ((current: Row) => unknown), context.attempt),
  );
}

/** Dialects whose UPDATE can return the updated row (`RETURNING`). */
const RETURNING_DIALECTS = new Set(['postgresql', 'cockroachdb', 'sqlite3']);

/** What every attempt of one call works on. */
interface Target {
  readonly db: Knex | Knex.Transaction;
  readonly table: string;
  readonly where: Record<string, unknown>;
  readonly versionColumn: string;
  readonly returning: boolean;
  readonly lockingReread: boolean;
}

/** One read + conditional update. */
async function attemptUpdate<Row>(
  target: Target,
  update: Partial<Row> | ((current: Row) => unknown),
  attempt: number,
): Promise<Row> {
  const { db, table, where, versionColumn } = target;
  const read = db(table).where(where).select('*').limit(2);
  if (attempt > 1 && target.lockingReread) read.forShare();
  const rows = (await read) as Record<string, unknown>[];
  const current = rows[0];
  if (current === undefined) throw new OptimisticLockConflictError(table, attempt, 'not_found');
  if (rows.length > 1) {
    throw new TypeError(
      `atomicUpdate on "${table}": where (${Object.keys(where).join(', ')}) matches more than one row; it must identify exactly one row, such as by its primary key`,
    );
  }
  if (!Object.hasOwn(current, versionColumn)) {
    throw new TypeError(
      `atomicUpdate on "${table}": the row has no column "${versionColumn}" (options.versionColumn)`,
    );
  }
  const version = current[versionColumn];
  const next = nextVersion(table, versionColumn, version);
  const changes =
    typeof update === 'function'
      ? checkComputedChanges(table, versionColumn, await update(current as Row))
      : definedEntries(update as Changes);
  if (Object.keys(changes).length === 0) return current as Row;
  const write = db(table)
    .where(where)
    .andWhere(versionColumn, version as Knex.Value)
    .update({ ...changes, [versionColumn]: next });
  if (target.returning) {
    const updated = (await write.returning('*')) as unknown as Row[];
    if (updated[0] === undefined) throw new OptimisticLockConflictError(table, attempt, 'conflict');
    return updated[0];
  }
  const count = Number(await write);
  if (count === 0) throw new OptimisticLockConflictError(table, attempt, 'conflict');
  return { ...current, ...changes, [versionColumn]: next } as Row;
}

/** `version` + 1, in the type the driver gave it (a bigint may come as a string or a BigInt). */
function nextVersion(table: string, column: string, version: unknown): number | bigint | string {
  if (typeof version === 'number' && Number.isSafeInteger(version + 1)) return version + 1;
  if (typeof version === 'bigint') return version + 1n;
  if (typeof version === 'string' && /^-?\d+$/.test(version)) return String(BigInt(version) + 1n);
  const held =
    version === null
      ? 'NULL'
      : `${describe(version)} that is not an integer${typeof version === 'number' ? ' below 2^53' : ''}`;
  throw new TypeError(
    `atomicUpdate on "${table}": the version column "${column}" holds ${held}; it must be a non-null integer column that every writer bumps`,
  );
}

/** The changes a function `update` returned, checked like the object form's. */
function checkComputedChanges(table: string, versionColumn: string, changes: unknown): Changes {
  if (!isPlainObject(changes)) {
    throw new TypeError(
      `atomicUpdate on "${table}": the update function must return an object of changes, got ${describe(changes)}`,
    );
  }
  if (Object.hasOwn(changes, versionColumn)) {
    throw new TypeError(
      `atomicUpdate on "${table}": the update function must not set the version column "${versionColumn}"; atomicUpdate bumps it`,
    );
  }
  return definedEntries(changes);
}

/** Without keys set to `undefined` (which Knex would skip), so the merged row matches the write. */
function definedEntries(changes: Changes): Changes {
  const defined: Changes = {};
  for (const [key, value] of Object.entries(changes)) if (value !== undefined) defined[key] = value;
  return defined;
}

const KNOWN_OPTIONS = new Set(['versionColumn', 'maxAttempts', 'backoff']);

/** Checks every argument; throws a TypeError naming the bad one (never showing a value). */
function checkArguments(
  db: unknown,
  table: unknown,
  where: unknown,
  update: unknown,
  options: unknown,
): { versionColumn: string; maxAttempts: number; backoff: Backoff } {
  if (typeof db !== 'function' || typeof (db as { client?: unknown }).client !== 'object') {
    throw new TypeError(
      `atomicUpdate: db must be a Knex instance or transaction, got ${describe(db)}`,
    );
  }
  if (typeof table !== 'string' || table.length === 0) {
    throw new TypeError(`atomicUpdate: table must be a non-empty string, got ${describe(table)}`);
  }
  if (!isPlainObject(options)) {
    throw new TypeError(
      `atomicUpdate on "${table}": options must be an object with a versionColumn, got ${describe(options)}`,
    );
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) {
      throw new TypeError(`atomicUpdate on "${table}": unknown option ${JSON.stringify(key)}`);
    }
  }
  const { versionColumn, maxAttempts, backoff } = options as Partial<AtomicUpdateOptions>;
  if (typeof versionColumn !== 'string' || versionColumn.length === 0) {
    throw new TypeError(
      `atomicUpdate on "${table}": options.versionColumn must be a non-empty column name, got ${describe(versionColumn)}`,
    );
  }
  if (
    maxAttempts !== undefined &&
    (typeof maxAttempts !== 'number' || !Number.isInteger(maxAttempts) || maxAttempts < 1)
  ) {
    throw new TypeError(
      `atomicUpdate on "${table}": options.maxAttempts must be an integer >= 1, got ${String(maxAttempts)}`,
    );
  }
  if (
    backoff !== undefined &&
    (typeof backoff !== 'object' ||
      backoff === null ||
      typeof (backoff as { delayMs?: unknown }).delayMs !== 'function')
  ) {
    throw new TypeError(
      `atomicUpdate on "${table}": options.backoff must be a Backoff (an object with delayMs()), got ${describe(backoff)}`,
    );
  }
  if (!isPlainObject(where) || Object.keys(where).length === 0) {
    throw new TypeError(
      `atomicUpdate on "${table}": where must be a non-empty object of column values identifying one row, got ${describe(where)}`,
    );
  }
  for (const [column, value] of Object.entries(where)) {
    if (value === undefined) {
      throw new TypeError(`atomicUpdate on "${table}": where.${column} is undefined`);
    }
  }
  if (Object.hasOwn(where, versionColumn)) {
    throw new TypeError(
      `atomicUpdate on "${table}": where must not include the version column "${versionColumn}"; atomicUpdate reads the current version itself`,
    );
  }
  if (typeof update !== 'function') {
    if (!isPlainObject(update)) {
      throw new TypeError(
        `atomicUpdate on "${table}": update must be an object of changes or a function of the current row, got ${describe(update)}`,
      );
    }
    if (Object.hasOwn(update, versionColumn)) {
      throw new TypeError(
        `atomicUpdate on "${table}": update must not set the version column "${versionColumn}"; atomicUpdate bumps it`,
      );
    }
    if (Object.keys(definedEntries(update)).length === 0) {
      throw new TypeError(`atomicUpdate on "${table}": update must set at least one column`);
    }
  }
  return {
    versionColumn,
    maxAttempts: maxAttempts ?? DEFAULT_ATOMIC_UPDATE_MAX_ATTEMPTS,
    backoff: backoff ?? DEFAULT_ATOMIC_UPDATE_BACKOFF,
  };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** A value's kind for an error message: never the value itself (it may be personal data). */
function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return value.length === 0 ? 'an empty string' : 'a string';
  if (isPlainObject(value)) {
    return Object.keys(value).length === 0 ? 'an empty object' : 'an object';
  }
  if (typeof value === 'object') return `an instance of ${value.constructor?.name ?? 'a class'}`;
  return `a ${typeof value}`;
}

// One policy per (backoff, maxAttempts): their telemetry series are shared by name anyway, and
// callers use a handful of settings.
const policies = new WeakMap<Backoff, Map<number, RetryPolicy>>();

function policyFor(maxAttempts: number, backoff: Backoff): RetryPolicy {
  let byAttempts = policies.get(backoff);
  if (byAttempts === undefined) {
    byAttempts = new Map();
    policies.set(backoff, byAttempts);
  }
  let policy = byAttempts.get(maxAttempts);
  if (policy === undefined) {
    policy = retry({
      name: ATOMIC_UPDATE_POLICY_NAME,
      classifier,
      maxAttempts,
      backoff,
      // Only a lost race is worth a fresh read; database failures are the plugin's to retry.
      retryOn: (error) => isOptimisticLockConflictError(error) && error.reason === 'conflict',
    });
    if (byAttempts.size >= 16) byAttempts.clear();
    byAttempts.set(maxAttempts, policy);
  }
  return policy;
}
