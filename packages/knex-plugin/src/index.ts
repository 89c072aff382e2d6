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
export type {
  KnexCircuitBreakerOptions,
  KnexResilienceOptions,
  KnexRetryOptions,
} from './options.js';
export { type QueryOptions, withQueryOptions } from './queryOptions.js';
export { type QueryShape, queryShapeOf } from './queryShape.js';
export { type KnexResilienceHandle, type ResilientKnex, withResilience } from './withResilience.js';
