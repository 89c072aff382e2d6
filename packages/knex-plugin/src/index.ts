export {
  ATOMIC_UPDATE_POLICY_NAME,
  type AtomicUpdateOptions,
  atomicUpdate,
  DEFAULT_ATOMIC_UPDATE_BACKOFF,
  DEFAULT_ATOMIC_UPDATE_MAX_ATTEMPTS,
  optimisticLockConflictRule,
} from './atomicUpdate.js';
export {
  type DatabaseFailure,
  databaseErrorRule,
  databaseFailureIn,
  databaseFailureOf,
} from './databaseErrors.js';
export {
  isOptimisticLockConflictError,
  isUnknownCommitOutcomeError,
  OptimisticLockConflictError,
  UnknownCommitOutcomeError,
} from './errors.js';
export type { ResilientTransactionConfig } from './KnexResilience.js';
export {
  DEFAULT_HALF_OPEN_AFTER_MS,
  DEFAULT_PING_TIMEOUT_MS,
  type KnexCircuitBreakerOptions,
  type KnexResilienceOptions,
  type KnexRetryOptions,
} from './options.js';
export { attachPoolTelemetry, type PoolTelemetryOptions } from './poolTelemetry.js';
export { type QueryOptions, withQueryOptions } from './queryOptions.js';
export { type QueryShape, queryShapeOf } from './queryShape.js';
export {
  type BulkInsertFailure,
  type BulkInsertResult,
  DEFAULT_BULK_INSERT_BATCH_SIZE,
  type SafeBulkInsertOptions,
  safeBulkInsert,
} from './safeBulkInsert.js';
export { withSavepoint } from './savepoint.js';
export { type KnexResilienceHandle, type ResilientKnex, withResilience } from './withResilience.js';
