import { databaseFailureIn } from './databaseErrors.js';

/** A pooled driver connection as Knex marks it: a set `__knex__disposed` makes the pool drop it. */
interface KnexConnection {
  __knex__disposed?: unknown;
}

/** Errors raised by a statement that had been handed to the driver (it may have reached the server). */
const sentErrors = new WeakSet<object>();

/**
 * Handles a statement's failure on `connection`: remembers that the statement was sent, and marks
 * a connection the error proves dead so that the pool destroys it instead of handing it to the
 * next query — plain Knex returns it to the pool, and one killed backend then costs two failed
 * operations.
 */
export function noteStatementFailure(connection: unknown, error: unknown): void {
  if (typeof error === 'object' && error !== null) sentErrors.add(error);
  if (typeof connection !== 'object' || connection === null) return;
  if (databaseFailureIn(error)?.connectionLost === true) {
    const marked = connection as KnexConnection;
    marked.__knex__disposed ??= error;
  }
}

/** Whether `error` came from a statement that was sent (else: acquiring, or building the SQL). */
export function wasSent(error: unknown): boolean {
  return typeof error === 'object' && error !== null && sentErrors.has(error);
}

/** Marks `connection` for eviction (a failed ping). */
export function evict(connection: unknown, reason: unknown): void {
  if (typeof connection === 'object' && connection !== null) {
    (connection as KnexConnection).__knex__disposed ??= reason;
  }
}
