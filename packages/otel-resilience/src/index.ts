export { type BulkheadOptions, BulkheadPolicy, bulkhead } from './BulkheadPolicy.js';
export {
  type AggressiveBackoffOptions,
  aggressiveBackoff,
  type Backoff,
  ConstantBackoff,
  type ConstantBackoffOptions,
  constantBackoff,
  DecorrelatedJitterBackoff,
  type DecorrelatedJitterBackoffOptions,
  DeterministicBackoff,
  type DeterministicBackoffOptions,
  decorrelatedJitterBackoff,
  ExponentialBackoff,
  type ExponentialBackoffOptions,
  exponentialBackoff,
  FibonacciBackoff,
  fibonacciBackoff,
  JITTERS,
  type Jitter,
  LinearBackoff,
  linearBackoff,
} from './backoff/Backoff.js';
export {
  type Breaker,
  type BreakerWindow,
  ConsecutiveBreaker,
  CountBasedBreaker,
  type CountBasedBreakerOptions,
  consecutiveBreaker,
  countBasedBreaker,
  TimeBasedBreaker,
  type TimeBasedBreakerOptions,
  timeBasedBreaker,
} from './breaker/Breaker.js';
export type { CircuitBreakerSnapshot } from './breaker/CircuitBreakerSnapshot.js';
export type { CircuitBreakerStateStore } from './breaker/CircuitBreakerStateStore.js';
export { CIRCUIT_STATES, type CircuitState } from './breaker/CircuitState.js';
export { InMemoryCircuitBreakerStateStore } from './breaker/InMemoryCircuitBreakerStateStore.js';
export type { OpenDurationBackoff } from './breaker/OpenDuration.js';
export {
  type CircuitBreakerOptions,
  CircuitBreakerPolicy,
  type CircuitFailurePredicate,
  type CircuitOpened,
  type CircuitStateChange,
  circuitBreaker,
  defaultIsFailure,
} from './CircuitBreakerPolicy.js';
export { categoryOfHttpStatus } from './classification/builtinRules.js';
export type {
  Classification,
  ClassificationMatch,
  ClassificationRule,
  ErrorCategory,
} from './classification/Classification.js';
export { ERROR_CATEGORIES } from './classification/Classification.js';
export {
  Classifier,
  type ClassifierOptions,
  DEFAULT_RETRYABLE,
  defaultClassifier,
} from './classification/Classifier.js';
export { causeChain } from './classification/causeChain.js';
export {
  type CategoryStrategy,
  DEFAULT_DECISION_MATRIX,
  type DecisionMatrix,
} from './classification/decisionMatrix.js';
export { errorTypeOf, httpStatusOf } from './classification/errorType.js';
export { parseRetryAfter, retryAfterHintOf } from './classification/retryAfter.js';
export {
  currentDeadlineScope,
  type DeadlineScope,
  deadlineScopeWithin,
  type RunWithDeadlineOptions,
  remainingTimeMs,
  runWithDeadline,
} from './DeadlineContext.js';
export type { Disposable } from './Disposable.js';
export type { Event } from './Event.js';
export type { ExecuteContext, PolicyFunction } from './ExecuteContext.js';
export { AbortedError, isAbortedError } from './errors/AbortedError.js';
export {
  BrokenCircuitError,
  isBrokenCircuitError,
  type RejectingState,
} from './errors/BrokenCircuitError.js';
export { BulkheadRejectedError, isBulkheadRejectedError } from './errors/BulkheadRejectedError.js';
export {
  isTimeoutExceededError,
  TimeoutExceededError,
  type TimeoutSource,
} from './errors/TimeoutExceededError.js';
export {
  type FallbackContext,
  type FallbackHandler,
  type FallbackOptions,
  FallbackPolicy,
  type FallbackPredicate,
  fallback,
  withFallback,
} from './FallbackPolicy.js';
export {
  type CheckReport,
  HEALTH_STATUSES,
  type HealthCheck,
  type HealthCheckOptions,
  type HealthCheckResult,
  HealthRegistry,
  type HealthReport,
  type HealthStatus,
} from './health/HealthRegistry.js';
export { type HttpAnswer, jsonAnswer, writeAnswer } from './http/HttpAnswer.js';
export {
  InboundGuard,
  type InboundGuardOptions,
  InboundRoute,
  type InboundRouteOptions,
  MAX_ROUTE_TEMPLATES,
  type RouteCircuitBreakerOptions,
  type SheddingOptions,
} from './http/InboundGuard.js';
export { type BeginOptions, InboundRequest } from './http/InboundRequest.js';
export {
  type AuthorizeHook,
  checkEndpointPath,
  EndpointProtection,
  HealthEndpoints,
  type HealthEndpointsOptions,
  type ProtectedEndpointOptions,
} from './http/OperationalEndpoints.js';
export { type ExecuteOptions, executeQuietly, type Policy, type PolicyOptions } from './Policy.js';
export {
  type BatchAttempt,
  type BatchFailure,
  type BatchItemFunction,
  type BatchProgress,
  type BatchResult,
  type BatchSuccess,
  type ProcessBatchOptions,
  processBatch,
} from './processBatch.js';
export { RetryBudget, type RetryBudgetOptions } from './RetryBudget.js';
export {
  DEFAULT_RETRY_BACKOFF,
  type GiveUpEvent,
  type GiveUpReason,
  type RetryEvent,
  type RetryFailure,
  type RetryOptions,
  RetryPolicy,
  retry,
} from './RetryPolicy.js';
export { type SafeDefault, type SafeExecuteOptions, safeExecute } from './safeExecute.js';
export {
  type TimeoutOptions,
  TimeoutPolicy,
  type TimeoutStrategy,
  timeout,
} from './TimeoutPolicy.js';
export * from './telemetry/attributes.js';
export { BoundedLabels } from './telemetry/BoundedLabels.js';
export {
  type ConnectionPoolIdentity,
  type ConnectionPoolState,
  ConnectionPoolTelemetry,
  type ConnectionPoolTelemetryOptions,
} from './telemetry/ConnectionPoolTelemetry.js';
export {
  type CounterKey,
  DB_CONNECTION_WAIT_BUCKETS_SECONDS,
  DURATION_BUCKETS_SECONDS,
  type HistogramKey,
  HTTP_DURATION_BUCKETS_SECONDS,
  type InstrumentKind,
  METRICS,
  type MetricDefinition,
  type MetricKey,
  type MetricKeyOfKind,
  type ObservedKey,
  type ReadingKey,
} from './telemetry/catalogue.js';
export {
  type CounterSeries,
  counterSeries,
  observeReading,
  type RecordableHistogramKey,
  recordHistogram,
} from './telemetry/metrics.js';
export {
  PROMETHEUS_NAMINGS,
  type PrometheusNaming,
  type PrometheusSeriesNames,
  prometheusLabel,
  prometheusNames,
} from './telemetry/prometheusNames.js';
export { ResilienceMetricProducer } from './telemetry/ResilienceMetricProducer.js';
export { SCOPE_NAME, VERSION } from './version.js';
export { type PipelineOptions, PipelinePolicy, wrap } from './wrap.js';
