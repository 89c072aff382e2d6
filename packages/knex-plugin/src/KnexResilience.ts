import { type Span, trace } from '@opentelemetry/api';
import type { Knex } from 'knex';
import {
  ATTR_DB_COLLECTION_NAME,
  ATTR_DB_COMMIT_OUTCOME,
  ATTR_DB_OPERATION_NAME,
  ATTR_DB_RESPONSE_STATUS_CODE,
  ATTR_DB_SYSTEM_NAME,
  ATTR_RESILIENCE_NAME,
  type CircuitBreakerPolicy,
  Classifier,
  type CounterSeries,
  circuitBreaker,
  counterSeries,
  defaultClassifier,
  isBrokenCircuitError,
  type PipelinePolicy,
  type Policy,
  retry,
  wrap,
} from 'otel-resilience';
import { type CommitState, trackCommit } from './commitTracking.js';
import { type CommitStatus, commitStatusOf } from './commitVerification.js';
import { wasSent } from './connections.js';
import { databaseErrorRule, databaseFailureIn } from './databaseErrors.js';
import { isUnknownCommitOutcomeError, UnknownCommitOutcomeError } from './errors.js';
import type { KnexRetryOptions, ResolvedKnexOptions } from './options.js';
import { queryOptionsOf } from './queryOptions.js';
import { queryShapeOf } from './queryShape.js';

/** Knex's own `transaction(container, config)`. */
export type BeginTransaction = (
  container: (trx: Knex.Transaction) => Promise<unknown>,
  config?: Knex.TransactionConfig,
) => Promise<unknown>;

/** Options of one resilient transaction: Knex's, plus how many times it may run. */
export interface ResilientTransactionConfig extends Knex.TransactionConfig {
  /** Runs of the callback at most (integer ≥ 1), overriding `transactionRetry.maxAttempts`. */
  readonly maxAttempts?: number;
}

const ISOLATION_LEVELS = [
  'read uncommitted',
  'read committed',
  'snapshot',
  'repeatable read',
  'serializable',
];

/**
 * The plugin's state for one Knex instance: its classifier, the database's breaker and the
 * pipelines queries and transactions run through.
 */
export class KnexResilience {
  readonly classifier: Classifier;
  /** The database's breaker; `undefined` when disabled. */
  readonly breaker: CircuitBreakerPolicy | undefined;
  private readonly queryPipelines = new Map<string, PipelinePolicy>();
  private readonly transactionPipelines = new Map<number, PipelinePolicy>();
  private readonly baseAttributes: Readonly<Record<string, string>>;
  /**
   * `resilience.db.commit_verifications` by outcome, made up front so that the series exist (at
   * 0) before the first lost COMMIT: dashboards and `increase()` then see every outcome.
   */
  private readonly verifications: Readonly<Record<CommitStatus, CounterSeries>>;

  constructor(
    private readonly knex: Knex,
    readonly options: ResolvedKnexOptions,
    private readonly begin: BeginTransaction,
  ) {
    // Rules an application registered on the default classifier (and the built-ins) still apply.
    this.classifier = new Classifier({
      rules: [...options.rules, databaseErrorRule],
      builtinRules: false,
      fallback: defaultClassifier,
    });
    this.baseAttributes = { [ATTR_DB_SYSTEM_NAME]: options.dbSystem };
    const verifications = (outcome: CommitStatus) =>
      counterSeries('dbCommitVerifications', {
        [ATTR_RESILIENCE_NAME]: options.transactionName,
        [ATTR_DB_SYSTEM_NAME]: options.dbSystem,
        [ATTR_DB_COMMIT_OUTCOME]: outcome,
      });
    this.verifications = {
      committed: verifications('committed'),
      aborted: verifications('aborted'),
      unknown: verifications('unknown'),
    };
    this.breaker =
      options.circuitBreaker === false
        ? undefined
        : circuitBreaker({
            ...options.circuitBreaker,
            name: options.name,
            classifier: this.classifier,
            attributes: this.baseAttributes,
            // Only an unreachable database opens the circuit: a deadlock or a constraint
            // violation is the database answering.
            isFailure: (error) => databaseFailureIn(error)?.unavailable === true,
          });
  }

  /** Runs one query (outside a transaction) with retries; `attempt(n)` runs it once. */
  executeQuery(builder: unknown, attempt: (n: number) => Promise<unknown>): Promise<unknown> {
    const shape = queryShapeOf(builder);
    const settings = queryOptionsOf(builder);
    const repeatable = shape.read || settings.idempotent === true;
    const pipeline = this.queryPipeline(
      shape.operation,
      repeatable,
      settings.retry !== false,
      settings.circuitBreaker !== false,
    );
    const outer = trace.getActiveSpan();
    return pipeline.execute(async (context) => {
      const span = attemptSpan(outer);
      if (span !== undefined && shape.collection !== undefined) {
        span.setAttribute(ATTR_DB_COLLECTION_NAME, shape.collection);
      }
      try {
        return await attempt(context.attempt);
      } catch (error) {
        if (span !== undefined) annotateFailure(span, error);
        throw error;
      }
    });
  }

  /**
   * Runs `fn` in a transaction, re-running it whole (on a fresh connection) on serialization
   * failures, deadlocks and connections lost before COMMIT; never after a COMMIT whose outcome is
   * unknown — resolved through the database where it can tell (PostgreSQL).
   */
  transaction<T>(
    fn: (trx: Knex.Transaction) => Promise<T> | T,
    config: ResilientTransactionConfig = {},
  ): Promise<T> {
    if (typeof fn !== 'function') {
      return Promise.reject(
        new TypeError(`transaction() needs a callback function, got ${String(fn)}`),
      );
    }
    let knexConfig: Knex.TransactionConfig;
    let pipeline: PipelinePolicy;
    try {
      const { maxAttempts, ...rest } = checkTransactionConfig(config);
      knexConfig = rest;
      pipeline = this.transactionPipeline(maxAttempts);
    } catch (error) {
      return Promise.reject(error);
    }
    return pipeline.execute(() => this.runTransactionOnce(fn, knexConfig));
  }

  /** Removes the breaker from the state gauge. */
  dispose(): void {
    this.breaker?.dispose();
  }

  private async runTransactionOnce<T>(
    fn: (trx: Knex.Transaction) => Promise<T> | T,
    config: Knex.TransactionConfig,
  ): Promise<T> {
    let result: { value: T } | undefined;
    let callbackFailure: { error: unknown } | undefined;
    let commit: CommitState | undefined;
    try {
      await this.begin(async (trx) => {
        commit = trackCommit(trx, this.options.verifyCommits);
        try {
          const value = await fn(trx);
          result = { value };
          return value;
        } catch (error) {
          callbackFailure = { error };
          throw error;
        }
      }, config);
      return (result as { value: T }).value;
    } catch (error) {
      // A ROLLBACK that failed on a dead connection replaces the callback's error with its own,
      // which has lost the code that says what happened.
      if (callbackFailure !== undefined) throw callbackFailure.error;
      if (result !== undefined && commit?.inFlight && databaseFailureIn(error)?.connectionLost) {
        return this.resolveCommit(result.value, commit, error);
      }
      throw error;
    }
  }

  /** The connection was lost with COMMIT in flight: asks the database what happened. */
  private async resolveCommit<T>(value: T, commit: CommitState, lost: unknown): Promise<T> {
    if (commit.txid === null) return value; // it wrote nothing: committed or not, the same
    if (!this.options.verifyCommits || commit.txid === undefined) {
      this.recordVerification('unknown');
      throw new UnknownCommitOutcomeError('not_verifiable', { cause: lost });
    }
    let status: CommitStatus;
    try {
      status = await commitStatusOf(this.knex, commit.txid);
    } catch (error) {
      this.recordVerification('unknown');
      throw new UnknownCommitOutcomeError('verification_failed', { cause: error });
    }
    this.recordVerification(status);
    if (status === 'committed') return value;
    // Aborted: the lost connection's error re-runs the transaction like any lost connection.
    if (status === 'aborted') throw lost;
    throw new UnknownCommitOutcomeError('status_unavailable', { cause: lost });
  }

  private recordVerification(outcome: CommitStatus): void {
    this.verifications[outcome].add();
    trace
      .getActiveSpan()
      ?.addEvent('resilience.db.commit_verification', { [ATTR_DB_COMMIT_OUTCOME]: outcome });
  }

  private queryPipeline(
    operation: string | undefined,
    repeatable: boolean,
    retries: boolean,
    guarded: boolean,
  ): PipelinePolicy {
    const id = `${operation ?? ''}|${repeatable ? 'r' : 'w'}|${retries ? 'y' : 'n'}|${guarded ? 'b' : ''}`;
    let pipeline = this.queryPipelines.get(id);
    if (pipeline === undefined) {
      const attributes =
        operation === undefined
          ? this.baseAttributes
          : { ...this.baseAttributes, [ATTR_DB_OPERATION_NAME]: operation };
      const retryOptions = retries ? this.options.retry : false;
      pipeline = this.pipeline(
        this.options.name,
        attributes,
        retryOptions,
        (error) => queryMayRetry(error, repeatable),
        guarded,
      );
      this.queryPipelines.set(id, pipeline);
    }
    return pipeline;
  }

  private transactionPipeline(maxAttempts: number | undefined): PipelinePolicy {
    const retryOptions: KnexRetryOptions | false =
      maxAttempts === undefined
        ? this.options.transactionRetry
        : { ...(this.options.transactionRetry || {}), maxAttempts };
    const key = maxAttempts ?? 0;
    let pipeline = this.transactionPipelines.get(key);
    if (pipeline === undefined) {
      pipeline = this.pipeline(
        this.options.transactionName,
        this.baseAttributes,
        retryOptions,
        transactionMayRerun,
        true,
      );
      // Per-call attempt counts are few in practice; the map is bounded all the same.
      if (this.transactionPipelines.size >= 16) this.transactionPipelines.clear();
      this.transactionPipelines.set(key, pipeline);
    }
    return pipeline;
  }

  private pipeline(
    name: string,
    attributes: Readonly<Record<string, string>>,
    retryOptions: KnexRetryOptions | false,
    retryOn: (error: unknown) => boolean | undefined,
    guarded: boolean,
  ): PipelinePolicy {
    const common = { name, classifier: this.classifier, attributes };
    const policies: Policy[] = [];
    if (retryOptions !== false) {
      const userRetryOn = retryOptions.retryOn;
      policies.push(
        retry({
          ...retryOptions,
          ...common,
          retryOn: (error, classification) =>
            retryOn(error) === false ? false : userRetryOn?.(error, classification),
        }),
      );
    }
    if (guarded && this.breaker !== undefined) policies.push(this.breaker);
    // Without retries and breaker, a single attempt still gets its call span and metrics.
    if (policies.length === 0) policies.push(retry({ ...common, maxAttempts: 1 }));
    return wrap(common, ...policies);
  }
}

/**
 * Whether a failed query may run again: only database failures, never an open breaker; a write
 * that reached the server only when the server rejected it whole (a deadlock victim, a lock or
 * statement timeout) — after a lost connection or a client-side timeout it may have been applied.
 */
function queryMayRetry(error: unknown, repeatable: boolean): boolean | undefined {
  if (isBrokenCircuitError(error)) return false;
  const failure = databaseFailureIn(error);
  if (failure === undefined || !failure.retryable) return false;
  if (repeatable || failure.neverSent || !wasSent(error)) return undefined;
  return failure.connectionLost || failure.code === 'query_timeout' ? false : undefined;
}

/** Whether a failed transaction may run again: database failures before any unknown COMMIT. */
function transactionMayRerun(error: unknown): boolean | undefined {
  if (isBrokenCircuitError(error) || isUnknownCommitOutcomeError(error)) return false;
  const failure = databaseFailureIn(error);
  return failure === undefined || !failure.retryable ? false : undefined;
}

/**
 * The span an attempt runs in, when it is the engine's attempt span: with a sampler that drops
 * the call, the active span is the caller's, which must not get the attempt's attributes.
 */
function attemptSpan(outer: Span | undefined): Span | undefined {
  const span = trace.getActiveSpan();
  return span !== undefined && span !== outer && span.isRecording() ? span : undefined;
}

/** `db.response.status_code` of a failure the database (not the client) reported. */
function annotateFailure(span: Span, error: unknown): void {
  const failure = databaseFailureIn(error);
  if (failure !== undefined && /^[0-9A-Z]{5}$|^\d+$|^SQLITE_/.test(failure.code)) {
    span.setAttribute(ATTR_DB_RESPONSE_STATUS_CODE, failure.code);
  }
}

function checkTransactionConfig(config: ResilientTransactionConfig): ResilientTransactionConfig {
  if (typeof config !== 'object' || config === null) {
    throw new TypeError(`transaction config must be an object, got ${String(config)}`);
  }
  const { maxAttempts, isolationLevel } = config;
  if (
    maxAttempts !== undefined &&
    (typeof maxAttempts !== 'number' || !Number.isInteger(maxAttempts) || maxAttempts < 1)
  ) {
    throw new TypeError(`maxAttempts must be an integer ≥ 1, got ${String(maxAttempts)}`);
  }
  if (isolationLevel !== undefined && !ISOLATION_LEVELS.includes(isolationLevel)) {
    throw new TypeError(
      `isolationLevel must be one of ${ISOLATION_LEVELS.join(', ')}, got ${String(isolationLevel)}`,
    );
  }
  return config;
}
