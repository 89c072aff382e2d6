import type { Attributes } from '@opentelemetry/api';
import { type Event, EventEmitter } from './Event.js';
import { type CallContext, NEVER_ABORTED, type PolicyFunction } from './ExecuteContext.js';
import { AbortedError } from './errors/AbortedError.js';
import { BulkheadRejectedError } from './errors/BulkheadRejectedError.js';
import { rejectAfterHandlersAttach } from './errors/rejectAfterHandlersAttach.js';
import { withoutStackTrace } from './errors/withoutStackTrace.js';
import { invoke, PolicyBase, type PolicyOptions, RUN } from './Policy.js';
import { ATTR_RESILIENCE_NAME, EVENT_BULKHEAD_REJECTION } from './telemetry/attributes.js';
import type { Series } from './telemetry/metrics.js';
import { checkInteger } from './validate.js';

/** Options of {@link bulkhead}. */
export interface BulkheadOptions extends PolicyOptions {
  /**
   * Calls that may wait (first in, first out) for a free execution slot once all are taken; calls
   * beyond that are rejected at once with {@link BulkheadRejectedError}. An integer ≥ 0, or
   * `Infinity` for an unbounded queue (which then never sheds load). Default `0`: no queue.
   */
  readonly maxQueued?: number;
}

/**
 * A call waiting for a slot: a node of the bulkhead's doubly linked queue (O(1) enqueue, dequeue
 * and removal on abort) and, through `handleEvent`, its own abort listener — no closure per wait.
 */
class Waiter {
  prev: Waiter | undefined;
  next: Waiter | undefined;

  constructor(
    readonly grant: () => void,
    readonly reject: (error: unknown) => void,
    /** The caller's signal when it can abort; the listener is removed when the wait ends. */
    readonly signal: AbortSignal | undefined,
    private readonly onAbort: (waiter: Waiter) => void,
  ) {}

  handleEvent(): void {
    this.onAbort(this);
  }
}

/**
 * Limits how many executions run at once: at most `maxConcurrent` run, up to `maxQueued` more wait
 * in a FIFO queue, and any further call is rejected at once with {@link BulkheadRejectedError} —
 * so a slow dependency ties up a bounded share of the process instead of all of it. A queued call
 * whose caller aborts leaves the queue at once and rejects with `AbortedError`.
 */
export class BulkheadPolicy extends PolicyBase {
  /** Executions allowed to run at the same time. */
  readonly maxConcurrent: number;
  /** Calls allowed to wait for a slot (`Infinity`: unbounded). */
  readonly maxQueued: number;

  private running = 0;
  private waiting = 0;
  private head: Waiter | undefined;
  private tail: Waiter | undefined;
  private readonly activeSeries: Series;
  private readonly queuedSeries: Series;
  private readonly rejectionSeries: Series;
  private readonly rejectionAttributes: Attributes;
  private readonly rejectEmitter = new EventEmitter<BulkheadRejectedError>();

  /** Fires for every call shed because all slots and the queue were full, with the error it gets. */
  readonly onReject: Event<BulkheadRejectedError> = this.rejectEmitter.event;

  constructor(maxConcurrent: number, options: BulkheadOptions = {}) {
    super(options, 'bulkhead');
    this.maxConcurrent = checkInteger('maxConcurrent', maxConcurrent, 1);
    this.maxQueued = checkInteger('maxQueued', options.maxQueued ?? 0, 0, true);
    this.activeSeries = this.telemetry.series('bulkheadActive');
    this.queuedSeries = this.telemetry.series('bulkheadQueued');
    this.rejectionSeries = this.telemetry.series('bulkheadRejections');
    this.rejectionAttributes = Object.freeze({ [ATTR_RESILIENCE_NAME]: this.name });
  }

  /** Executions running now. */
  get active(): number {
    return this.running;
  }

  /** Calls waiting in the queue now. */
  get queued(): number {
    return this.waiting;
  }

  /** Calls that could be accepted right now: free execution slots plus free queue places. */
  get capacity(): number {
    return this.maxConcurrent - this.running + (this.maxQueued - this.waiting);
  }

  /** @internal */
  [RUN]<T>(fn: PolicyFunction<T>, ctx: CallContext): Promise<T> {
    if (this.running < this.maxConcurrent) {
      this.running++;
      this.activeSeries.value++;
      return this.start(fn, ctx);
    }
    if (this.waiting >= this.maxQueued) return this.reject(ctx);
    // Only a queued call can be abandoned, so only it reads the (lazily created) signal.
    const signal = ctx.signal;
    if (signal.aborted) return Promise.reject(new AbortedError(signal.reason));
    // The continuation is registered here, in the caller's async context, so the function runs
    // with the caller's active span and deadline scope rather than those of the call whose
    // completion freed the slot.
    return new Promise<void>((grant, reject) => {
      const waiter = new Waiter(
        grant,
        reject,
        signal === NEVER_ABORTED ? undefined : signal,
        this.abandon,
      );
      waiter.signal?.addEventListener('abort', waiter, { once: true });
      this.enqueue(waiter);
    }).then(() => this.start(fn, ctx));
  }

  /**
   * Takes a free slot at once if there is one — no queueing, nothing counted as rejected — for
   * work whose end is not a promise (an inbound request, until its response closes). Free it with
   * {@link freeSlot}. @internal
   */
  tryTakeSlot(): boolean {
    if (this.running >= this.maxConcurrent) return false;
    this.running++;
    this.activeSeries.value++;
    return true;
  }

  /** Frees a slot taken with {@link tryTakeSlot}: the oldest queued call gets it. @internal */
  freeSlot(): void {
    this.release();
  }

  /** Runs `fn` in a slot already counted as taken, freeing it when `fn` settles. */
  private start<T>(fn: PolicyFunction<T>, ctx: CallContext): Promise<T> {
    return invoke(fn, ctx).then(this.onSuccess as (value: T) => T, this.onFailure);
  }

  // Bound once per policy: the success path allocates no closure per call.
  private readonly onSuccess = (value: unknown): unknown => {
    this.release();
    return value;
  };

  private readonly onFailure = (error: unknown): never => {
    this.release();
    throw error;
  };

  /** Hands the freed slot straight to the oldest waiter, so no newcomer can overtake it. */
  private release(): void {
    const next = this.head;
    if (next === undefined) {
      this.running--;
      this.activeSeries.value--;
      return;
    }
    this.unlink(next);
    next.signal?.removeEventListener('abort', next);
    next.grant();
  }

  private readonly abandon = (waiter: Waiter): void => {
    this.unlink(waiter);
    waiter.reject(new AbortedError(waiter.signal?.reason));
  };

  private reject<T>(ctx: CallContext): Promise<T> {
    this.rejectionSeries.value++;
    ctx.execution.addEvent(EVENT_BULKHEAD_REJECTION, this.rejectionAttributes);
    const error = withoutStackTrace(BulkheadRejectedError, this.name, this.running, this.waiting);
    if (this.rejectEmitter.hasListeners) this.rejectEmitter.emit(error);
    return rejectAfterHandlersAttach(error);
  }

  private enqueue(waiter: Waiter): void {
    const tail = this.tail;
    if (tail === undefined) this.head = waiter;
    else {
      tail.next = waiter;
      waiter.prev = tail;
    }
    this.tail = waiter;
    this.waiting++;
    this.queuedSeries.value++;
  }

  private unlink(waiter: Waiter): void {
    const { prev, next } = waiter;
    if (prev === undefined) this.head = next;
    else prev.next = next;
    if (next === undefined) this.tail = prev;
    else next.prev = prev;
    waiter.prev = undefined;
    waiter.next = undefined;
    this.waiting--;
    this.queuedSeries.value--;
  }
}

/**
 * Creates a {@link BulkheadPolicy}.
 * @param maxConcurrent Executions allowed to run at the same time (an integer ≥ 1).
 * @param options `maxQueued` (default 0), `name` (default `'bulkhead'`), `classifier`.
 * @example
 * const pool = bulkhead(10, { maxQueued: 50, name: 'reports' });
 * pool.onReject(() => shedCounter.inc());
 * await pool.execute(({ signal }) => renderReport(id, { signal }));
 */
export function bulkhead(maxConcurrent: number, options?: BulkheadOptions): BulkheadPolicy {
  return new BulkheadPolicy(maxConcurrent, options);
}
