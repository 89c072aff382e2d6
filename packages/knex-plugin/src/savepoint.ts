import type { Knex } from 'knex';

/**
 * Runs `fn` inside a savepoint of transaction `trx`: when `fn` fails, only its own statements are
 * rolled back (`ROLLBACK TO SAVEPOINT`) and the error is rethrown; the transaction stays usable —
 * on PostgreSQL too, where any failed statement otherwise aborts the whole transaction.
 *
 * @returns what `fn` resolves with, after `RELEASE SAVEPOINT`.
 * @throws TypeError when `trx` is not a transaction or `fn` not a function; else `fn`'s error.
 */
export async function withSavepoint<T>(
  trx: Knex.Transaction,
  fn: (savepoint: Knex.Transaction) => Promise<T> | T,
): Promise<T> {
  if (
    typeof trx !== 'function' ||
    typeof (trx as { savepoint?: unknown }).savepoint !== 'function'
  ) {
    throw new TypeError(`withSavepoint() needs a transaction, got ${String(trx)}`);
  }
  if (typeof fn !== 'function') {
    throw new TypeError(`withSavepoint() needs a callback function, got ${String(fn)}`);
  }
  // Knex runs a transaction's nested transaction as a savepoint.
  return trx.transaction(async (savepoint) => fn(savepoint)) as Promise<T>;
}
