import { diag } from '@opentelemetry/api';
import type { Classification, ErrorCategory } from './classification/Classification.js';
import { type Classifier, defaultClassifier } from './classification/Classifier.js';
import { monotonicNow } from './clock.js';
import { type ExecuteContext, singleAttemptContext } from './ExecuteContext.js';
import { AbortedError } from './errors/AbortedError.js';
import type { Policy } from './Policy.js';
import { checkFunction, checkInteger } from './validate.js';

/**
 * Processes one item; may be async. `context.attempt` is the attempt number (a retry policy
 * increments it) and `context.signal` aborts when the batch's signal does.
 */
export type BatchItemFunction<T, R> = (
  item: T,
  index: number,
  context: ExecuteContext,
) => R | PromiseLike<R>;

/** One failed attempt of an item: bounded facts only, never the error's message. */
export interface BatchAttempt {
  /** The attempt number, from 1 (the context's `attempt`). */
  readonly attempt: number;
  /** The failure's `error.type` (a code, HTTP status or class name). */
  readonly errorType: string;
  /** The failure's category. */
  readonly category: ErrorCategory;
  /** How long the attempt ran, in milliseconds (monotonic clock). */
  readonly durationMs: number;
}

/** An item that was processed. */
export interface BatchSuccess<T, R> {
  readonly item: T;
  /** Position of the item in the input. */
  readonly index: number;
  /** What `processItem` returned for it. */
  readonly value: R;
  /** The attempt that succeeded (1 unless the policy retried). */
  readonly attempts: number;
}

/** An item that could not be processed. */
export interface BatchFailure<T> {
  readonly item: T;
  /** Position of the item in the input. */
  readonly index: number;
  /**
   * The final error, as thrown; an `AbortedError` for items never started because the batch's
   * signal aborted (one instance shared by all of them).
   */
  readonly error: unknown;
  /** How the batch's classifier names the final error. */
  readonly classification: Classification;
  /**
   * Every attempt that reached `processItem` and failed, in order. Empty for items never started
   * and for failures raised by the policy before calling `processItem` (open circuit, full
   * bulkhead).
   */
  readonly attempts: readonly BatchAttempt[];
}

/** What {@link processBatch} resolves with; both lists keep the input order. */
export interface BatchResult<T, R> {
  readonly succeeded: BatchSuccess<T, R>[];
  readonly failed: BatchFailure<T>[];
}

/** Progress reported to `onItem`. */
export interface BatchProgress {
  /** Items finished so far (succeeded or failed), this one included. */
  readonly completed: number;
  /** Items in the batch. */
  readonly total: number;
}

/** Options of {@link processBatch}. */
export interface ProcessBatchOptions<T, R> {
  /** Items processed at the same time: an integer ≥ 1. Default `4`. */
  readonly concurrency?: number;
  /**
   * Policy (or pipeline) each item runs through — typically a retry, perhaps with a timeout and a
   * breaker; each item is one logical call of it. Default: each item is tried once.
   */
  readonly policy?: Policy;
  /**
   * Aborting it stops scheduling: items not started are reported failed with an `AbortedError`,
   * items in flight see the abort through their context's signal and the batch waits for them to
   * settle. Default: none.
   */
  readonly signal?: AbortSignal;
  /**
   * Called as each item finishes (a {@link BatchFailure} has `error`, a {@link BatchSuccess} does
   * not), items never started included. What it throws is reported through the OpenTelemetry diag
   * logger and ignored.
   */
  readonly onItem?: (
    outcome: BatchSuccess<T, R> | BatchFailure<T>,
    progress: BatchProgress,
  ) => void;
  /** Classifier naming failures in the attempt histories. Default: {@link defaultClassifier}. */
  readonly classifier?: Classifier;
}

type Outcome<T, R> = BatchSuccess<T, R> | BatchFailure<T>;

const NO_ATTEMPTS: readonly BatchAttempt[] = Object.freeze([]);

/**
 * Processes every item with bounded concurrency, each through an optional policy (per-item retry),
 * and reports which succeeded and which failed — with each failure's attempt history — instead of
 * stopping at the first error: partial success for bulk work. Runs in O(n) time with a fixed
 * number of workers, so 100k items need neither deep stacks nor 100k pending promises.
 * @param items The items (any iterable; an array is used as is).
 * @param processItem Processes one item.
 * @param options `concurrency` (default 4), `policy`, `signal`, `onItem`, `classifier`.
 * @example
 * const { succeeded, failed } = await processBatch(rows, (row, _, { signal }) => api.put(row, { signal }), {
 *   concurrency: 8,
 *   policy: retry({ maxAttempts: 3 }),
 * });
 * for (const { index, classification, attempts } of failed) deadLetters.push({ index, classification, attempts });
 */
export function processBatch<T, R>(
  items: Iterable<T>,
  processItem: BatchItemFunction<T, R>,
  options: ProcessBatchOptions<T, R> = {},
): Promise<BatchResult<T, R>> {
  if (items === null || typeof (items as Partial<Iterable<T>>)?.[Symbol.iterator] !== 'function') {
    throw new TypeError(`items must be an iterable, got ${String(items)}`);
  }
  checkFunction('processItem', processItem);
  const concurrency = checkInteger('concurrency', options.concurrency ?? 4, 1);
  const policy = options.policy;
  if (policy !== undefined && typeof (policy as Partial<Policy> | null)?.execute !== 'function') {
    throw new TypeError(`policy must be a policy, got ${String(policy)}`);
  }
  if (options.onItem !== undefined) checkFunction('onItem', options.onItem);
  const list: readonly T[] = Array.isArray(items) ? items : Array.from(items);
  return new BatchRun(list, processItem, options, concurrency).run();
}

/** The state of one {@link processBatch} call, shared by its workers. */
class BatchRun<T, R> {
  private readonly outcomes: Array<Outcome<T, R> | undefined>;
  private next = 0;
  private completed = 0;
  private readonly policy: Policy | undefined;
  private readonly signal: AbortSignal | undefined;
  private readonly classifier: Classifier;
  private readonly onItem: ProcessBatchOptions<T, R>['onItem'];
  /** Without a policy every item gets the same, immutable context. */
  private readonly singleAttempt: ExecuteContext;

  constructor(
    private readonly items: readonly T[],
    private readonly processItem: BatchItemFunction<T, R>,
    options: ProcessBatchOptions<T, R>,
    private readonly concurrency: number,
  ) {
    this.outcomes = new Array(items.length);
    this.policy = options.policy;
    this.signal = options.signal;
    this.classifier = options.classifier ?? defaultClassifier;
    this.onItem = options.onItem;
    this.singleAttempt = singleAttemptContext(options.signal);
  }

  async run(): Promise<BatchResult<T, R>> {
    const workers: Promise<void>[] = [];
    const count = Math.min(this.concurrency, this.items.length);
    for (let i = 0; i < count; i++) workers.push(this.work());
    await Promise.all(workers);
    if (this.next < this.items.length) this.reportUnstarted();
    return this.split();
  }

  private async work(): Promise<void> {
    const total = this.items.length;
    while (this.next < total && this.signal?.aborted !== true) {
      const index = this.next++;
      const outcome = await this.processOne(index);
      this.finish(index, outcome);
    }
  }

  private processOne(index: number): Promise<Outcome<T, R>> {
    const item = this.items[index] as T;
    const attempt = new ItemAttempts(item, index, this.processItem, this.classifier);
    const running =
      this.policy === undefined
        ? attempt.run(this.singleAttempt)
        : this.policy.execute(attempt.run, this.signal);
    return running.then(
      (value): Outcome<T, R> => ({ item, index, value, attempts: attempt.succeededAt }),
      (error: unknown): Outcome<T, R> => ({
        item,
        index,
        error,
        classification: this.classifier.classify(error),
        attempts: attempt.history ?? NO_ATTEMPTS,
      }),
    );
  }

  private finish(index: number, outcome: Outcome<T, R>): void {
    this.outcomes[index] = outcome;
    this.completed++;
    const onItem = this.onItem;
    if (onItem === undefined) return;
    try {
      onItem(outcome, { completed: this.completed, total: this.items.length });
    } catch (error) {
      diag.error('otel-resilience: a processBatch onItem hook threw; the batch continues', error);
    }
  }

  private reportUnstarted(): void {
    // One error for all of them: a stack trace per unstarted item would cost more than the batch.
    const error = new AbortedError(this.signal?.reason);
    const classification = this.classifier.classify(error);
    for (let index = this.next; index < this.items.length; index++) {
      const item = this.items[index] as T;
      this.finish(index, { item, index, error, classification, attempts: NO_ATTEMPTS });
    }
    this.next = this.items.length;
  }

  private split(): BatchResult<T, R> {
    const succeeded: BatchSuccess<T, R>[] = [];
    const failed: BatchFailure<T>[] = [];
    for (const outcome of this.outcomes) {
      if (outcome === undefined) continue;
      if ('error' in outcome) failed.push(outcome);
      else succeeded.push(outcome);
    }
    return { succeeded, failed };
  }
}

/** The attempts made for one item: runs `processItem` once per call and records each failure. */
class ItemAttempts<T, R> {
  history: BatchAttempt[] | undefined;
  succeededAt = 1;

  constructor(
    private readonly item: T,
    private readonly index: number,
    private readonly processItem: BatchItemFunction<T, R>,
    private readonly classifier: Classifier,
  ) {}

  readonly run = (context: ExecuteContext): Promise<R> => {
    const startMs = monotonicNow();
    let result: Promise<R>;
    try {
      result = Promise.resolve(this.processItem(this.item, this.index, context));
    } catch (error) {
      result = Promise.reject(error);
    }
    return result.then(
      (value) => {
        this.succeededAt = context.attempt;
        return value;
      },
      (error: unknown) => {
        const { errorType, category } = this.classifier.classify(error);
        const durationMs = monotonicNow() - startMs;
        const record = { attempt: context.attempt, errorType, category, durationMs };
        if (this.history === undefined) this.history = [record];
        else this.history.push(record);
        throw error;
      },
    );
  };
}
