import type { Knex } from 'knex';
import { databaseFailureIn } from './databaseErrors.js';
import { withSavepoint } from './savepoint.js';

/** Options of {@link safeBulkInsert}. */
export interface SafeBulkInsertOptions {
  /**
   * Rows per batch, each batch one transaction and, while no row fails, one INSERT statement:
   * an integer ≥ 1. Default {@link DEFAULT_BULK_INSERT_BATCH_SIZE} (500). Keep rows × columns
   * under the driver's bind-parameter limit (PostgreSQL: 65,535).
   */
  readonly batchSize?: number;
}

/** A row the database refused, with why. */
export interface BulkInsertFailure<Row> {
  /** The input row (the same object). */
  readonly row: Row;
  /** Its position in the input array. */
  readonly index: number;
  /** The error of the row's own single-row INSERT (a constraint, type or NOT NULL violation). */
  readonly error: unknown;
}

/** What {@link safeBulkInsert} did: every input row is either counted in `inserted` or in `failed`. */
export interface BulkInsertResult<Row> {
  /** Rows inserted (and committed). */
  readonly inserted: number;
  /** Rows refused, by input index, ascending. */
  readonly failed: BulkInsertFailure<Row>[];
}

/** Default {@link SafeBulkInsertOptions.batchSize}. */
export const DEFAULT_BULK_INSERT_BATCH_SIZE = 500;

/**
 * Inserts `rows` into `table` in batches, setting aside the rows the database refuses instead of
 * failing the whole insert. Each batch runs in its own transaction (`db.transaction`); its INSERT
 * runs in a savepoint, and when the database refuses it with a data error (constraint, type or
 * NOT NULL violation: {@link databaseFailureIn} category `data`) the batch is split in halves, each
 * retried in its own savepoint, down to single rows, which are reported in `failed`. A batch with
 * one bad row costs about 2 × log2(batchSize) more statements. Savepoints keep the transaction
 * usable on PostgreSQL, where a failed statement otherwise aborts it; they are harmless elsewhere.
 *
 * With {@link withResilience} enabled on `db`, a batch is re-run whole after a transient failure
 * (a killed connection, a deadlock) and a lost COMMIT is resolved where the database can tell
 * (PostgreSQL): the batch's outcome is recomputed from scratch on each run, so no row is counted
 * or written twice.
 *
 * Any failure other than a data error (after the plugin's re-runs, if enabled) fails the call:
 * batches before the failed one stay committed and the failed batch is rolled back — except after
 * an `UnknownCommitOutcomeError`, when it may have committed. Give the table a primary or unique
 * key so that calling again with the same rows reports the rows already written as duplicates in
 * `failed` instead of writing them twice.
 *
 * @param db A Knex instance, preferably with the plugin enabled.
 * @param rows Objects of column values, at least one. Rows may set different columns.
 * @returns How many rows were inserted and which failed (sorted by input index).
 * @throws TypeError naming the bad argument (or the index of a row that is not an object), before
 *   any query; else the error that stopped a batch.
 */
export async function safeBulkInsert<Row extends object>(
  db: Knex,
  table: string,
  rows: readonly Row[],
  options?: SafeBulkInsertOptions,
): Promise<BulkInsertResult<Row>> {
  const batchSize = checkArguments(db, table, rows, options);
  let inserted = 0;
  const failed: BulkInsertFailure<Row>[] = [];
  for (let start = 0; start < rows.length; start += batchSize) {
    const end = Math.min(start + batchSize, rows.length);
    // The outcome lives inside the callback: a re-run of the batch starts again from nothing.
    const outcome = await db.transaction(async (trx) => {
      const batch: BatchOutcome<Row> = { inserted: 0, failed: [] };
      await insertRange(trx, table, rows, start, end, batch);
      return batch;
    });
    inserted += outcome.inserted;
    failed.push(...outcome.failed);
  }
  failed.sort((a, b) => a.index - b.index);
  return { inserted, failed };
}

interface BatchOutcome<Row> {
  inserted: number;
  failed: BulkInsertFailure<Row>[];
}

/** Inserts `rows[start, end)` in a savepoint, bisecting on data errors down to single rows. */
async function insertRange<Row extends object>(
  trx: Knex.Transaction,
  table: string,
  rows: readonly Row[],
  start: number,
  end: number,
  outcome: BatchOutcome<Row>,
): Promise<void> {
  try {
    await withSavepoint(trx, (savepoint) => savepoint(table).insert(rows.slice(start, end)));
    outcome.inserted += end - start;
  } catch (error) {
    if (!isRowError(error)) throw error;
    if (end - start === 1) {
      outcome.failed.push({ row: rows[start] as Row, index: start, error });
      return;
    }
    const middle = start + Math.ceil((end - start) / 2);
    await insertRange(trx, table, rows, start, middle, outcome);
    await insertRange(trx, table, rows, middle, end, outcome);
  }
}

/**
 * Whether the rows inserted may be what the database refused: a data error (constraint, type,
 * NOT NULL). Anything else is the batch's to re-run or the call's to fail — also PostgreSQL's
 * "transaction is aborted" (class 25, a data error too), which follows a failure whatever the rows.
 */
function isRowError(error: unknown): boolean {
  const failure = databaseFailureIn(error);
  return failure?.category === 'data' && !/^25[0-9A-Z]{3}$/.test(failure.code);
}

const KNOWN_OPTIONS = new Set(['batchSize']);

/** Checks every argument; throws a TypeError naming the bad one (never showing a value). */
function checkArguments(db: unknown, table: unknown, rows: unknown, options: unknown): number {
  if (
    typeof db !== 'function' ||
    typeof (db as { transaction?: unknown }).transaction !== 'function'
  ) {
    throw new TypeError(`safeBulkInsert: db must be a Knex instance, got ${kindOf(db)}`);
  }
  if (typeof table !== 'string' || table.length === 0) {
    throw new TypeError(`safeBulkInsert: table must be a non-empty string, got ${kindOf(table)}`);
  }
  if (!Array.isArray(rows)) {
    throw new TypeError(
      `safeBulkInsert() on "${table}": rows must be an array of row objects, got ${kindOf(rows)}`,
    );
  }
  if (rows.length === 0) {
    throw new TypeError(`safeBulkInsert() needs at least one row (table "${table}")`);
  }
  for (let index = 0; index < rows.length; index++) {
    const row: unknown = rows[index];
    if (typeof row !== 'object' || row === null || Array.isArray(row)) {
      throw new TypeError(
        `safeBulkInsert() on "${table}": rows[${index}] must be an object of column values, got ${kindOf(row)}`,
      );
    }
  }
  if (options === undefined) return DEFAULT_BULK_INSERT_BATCH_SIZE;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(
      `safeBulkInsert() on "${table}": options must be an object, got ${kindOf(options)}`,
    );
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) {
      throw new TypeError(`safeBulkInsert() on "${table}": unknown option ${JSON.stringify(key)}`);
    }
  }
  const { batchSize } = options as SafeBulkInsertOptions;
  if (batchSize === undefined) return DEFAULT_BULK_INSERT_BATCH_SIZE;
  if (typeof batchSize !== 'number' || !Number.isInteger(batchSize) || batchSize < 1) {
    throw new TypeError(
      `safeBulkInsert() on "${table}": options.batchSize must be an integer >= 1, got ${String(batchSize)}`,
    );
  }
  return batchSize;
}

/** A value's kind for an error message: never the value itself (rows carry personal data). */
function kindOf(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return value.length === 0 ? 'an empty string' : 'a string';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
