/**
 * The transaction's COMMIT was sent but its acknowledgement never arrived (the connection was lost
 * while COMMIT was in flight), and the database could not say whether it committed. The
 * transaction is not re-run: it may have committed, and a re-run could write twice. Resolve it with
 * an idempotency key (see the README) or by reading the data back.
 *
 * The message names no SQL, value or table; the lost connection's error is the `cause`.
 */
export class UnknownCommitOutcomeError extends Error {
  override readonly name = 'UnknownCommitOutcomeError';
  /** Always `true`: lets code that cannot import this class recognise it. */
  readonly isUnknownCommitOutcome = true;

  constructor(
    /** Why the outcome is unknown: the database cannot be asked, or it could not tell. */
    readonly reason: 'not_verifiable' | 'verification_failed' | 'status_unavailable',
    options?: { cause?: unknown },
  ) {
    super(
      `The connection was lost while COMMIT was in flight and the outcome is unknown (${reason}); the transaction was not re-run`,
      options,
    );
  }
}

/** Whether `error` is an {@link UnknownCommitOutcomeError} (of any copy of this package). */
export function isUnknownCommitOutcomeError(error: unknown): error is UnknownCommitOutcomeError {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { isUnknownCommitOutcome?: unknown }).isUnknownCommitOutcome === true
  );
}

/**
 * `atomicUpdate` kept finding the row changed by someone else (its version moved between the read
 * and the update) and gave up after its last attempt; or the row does not exist.
 */
export class OptimisticLockConflictError extends Error {
  override readonly name = 'OptimisticLockConflictError';
  readonly isOptimisticLockConflict = true;

  constructor(
    /** The table updated (a schema name, never a value). */
    readonly table: string,
    /** Attempts made (reads + conditional updates). */
    readonly attempts: number,
    /** `conflict`: the version kept moving; `not_found`: no row matched the `where`. */
    readonly reason: 'conflict' | 'not_found',
  ) {
    super(
      reason === 'not_found'
        ? `atomicUpdate on "${table}": no row matches the given where clause`
        : `atomicUpdate on "${table}": the row kept changing concurrently; gave up after ${attempts} attempts`,
    );
  }
}

/** Whether `error` is an {@link OptimisticLockConflictError} (of any copy of this package). */
export function isOptimisticLockConflictError(
  error: unknown,
): error is OptimisticLockConflictError {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { isOptimisticLockConflict?: unknown }).isOptimisticLockConflict === true
  );
}
