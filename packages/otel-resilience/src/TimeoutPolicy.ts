import { remainingMsOf } from './DeadlineContext.js';
import {
  type CallContext,
  doNothing,
  NEVER_ABORTED,
  type PolicyFunction,
  type SignalSource,
} from './ExecuteContext.js';
import { TimeoutExceededError, type TimeoutSource } from './errors/TimeoutExceededError.js';
import { invoke, PolicyBase, type PolicyOptions, RUN } from './Policy.js';
import { type TimerEntry, TimerQueue } from './TimerQueue.js';
import {
  ATTR_TIMEOUT_SOURCE,
  ATTR_TIMEOUT_STRATEGY,
  EVENT_TIMEOUT,
} from './telemetry/attributes.js';
import { checkNonNegative } from './validate.js';

/**
 * - `cooperative`: at the deadline the context's signal aborts and the policy waits for the
 *   function to settle; a function that rejects after the deadline rejects with
 *   {@link TimeoutExceededError}, one that still resolves returns its value.
 * - `aggressive`: at the deadline the signal aborts and the caller is released at once with
 *   {@link TimeoutExceededError}, even if the function ignores the signal.
 */
export type TimeoutStrategy = 'cooperative' | 'aggressive';

/** Options of {@link timeout}. */
export interface TimeoutOptions extends PolicyOptions {
  /** How the deadline is enforced. Default `'cooperative'`. */
  readonly strategy?: TimeoutStrategy;
}

/**
 * One bounded execution: the context signal it hands to `fn` (aborted at the deadline or when the
 * caller's signal aborts; its AbortController is created only if `fn` reads it), its entry in the
 * policy's timer queue, and its listener on the caller's signal — one object, so a call allocates
 * little beyond its promises.
 */
class BoundedRun implements SignalSource, TimerEntry {
  dueAt = 0;
  next: TimerEntry | undefined = undefined;
  queued = false;
  /** Set when the deadline passed. */
  timedOutError: TimeoutExceededError | undefined;
  /** Aggressive strategy: rejects the caller's promise at the deadline. */
  releaseCaller: ((error: TimeoutExceededError) => void) | undefined;
  private controller: AbortController | undefined;
  private abortReason: unknown;
  private aborted = false;
  private parentSignal: AbortSignal | undefined;
  private ownTimer: ReturnType<typeof setTimeout> | undefined;
  /** Listeners of {@link onAbort}, and how this run stops following the caller for them. */
  private abortListeners: Array<(reason: unknown) => void> | undefined;
  private unfollowParent: (() => void) | undefined;

  constructor(
    private readonly policy: TimeoutPolicy,
    private readonly ctx: CallContext,
    private readonly limitMs: number,
    private readonly source: TimeoutSource,
  ) {}

  /** Starts the clock: the policy's shared queue, or a timer of its own for a shorter deadline. */
  start(queue: TimerQueue): void {
    if (this.source === 'timeout') queue.schedule(this);
    else this.ownTimer = setTimeout(() => this.onTimeout(), this.limitMs);
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      const controller = new AbortController();
      this.controller = controller;
      if (this.aborted) {
        controller.abort(this.abortReason);
      } else {
        const parentSignal = this.ctx.signal;
        if (parentSignal.aborted) controller.abort(parentSignal.reason);
        else if (parentSignal !== NEVER_ABORTED) {
          this.parentSignal = parentSignal;
          parentSignal.addEventListener('abort', this, { once: true });
        }
      }
    }
    return this.controller.signal;
  }

  onAbort(listener: (reason: unknown) => void): () => void {
    if (this.aborted) {
      listener(this.abortReason);
      return doNothing;
    }
    if (this.abortListeners === undefined) {
      this.abortListeners = [];
      this.unfollowParent ??= this.ctx.onAbort((reason) => this.abort(reason));
    }
    const listeners = this.abortListeners;
    listeners.push(listener);
    return () => {
      const index = listeners.indexOf(listener);
      if (index >= 0) listeners.splice(index, 1);
    };
  }

  /** The caller's signal aborted. */
  handleEvent(): void {
    this.abort(this.parentSignal?.reason);
  }

  onTimeout(): void {
    const error = this.policy.timedOut(this.ctx, this.limitMs, this.source);
    this.timedOutError = error;
    this.abort(error);
    if (this.releaseCaller !== undefined) {
      this.detach();
      this.releaseCaller(error);
    }
  }

  /** `fn` settled: stop the clock and let go of the caller's signal. */
  settle(queue: TimerQueue): void {
    queue.cancel(this);
    if (this.ownTimer !== undefined) clearTimeout(this.ownTimer);
    this.detach();
  }

  private abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.abortReason = reason;
    this.controller?.abort(reason);
    const listeners = this.abortListeners;
    if (listeners !== undefined) for (const listener of [...listeners]) listener(reason);
  }

  /** A long-lived caller signal keeps no reference to a finished run. */
  private detach(): void {
    this.parentSignal?.removeEventListener('abort', this);
    this.parentSignal = undefined;
    this.unfollowParent?.();
    this.unfollowParent = undefined;
  }
}

/**
 * Bounds each execution to `timeoutMs` — or to the caller's deadline from the deadline context,
 * whichever is sooner. See {@link TimeoutStrategy}.
 */
export class TimeoutPolicy extends PolicyBase {
  readonly timeoutMs: number;
  readonly strategy: TimeoutStrategy;
  private readonly queue: TimerQueue;
  private readonly timeoutAttributes: {
    timeout: Record<string, string>;
    deadline: Record<string, string>;
  };

  constructor(timeoutMs: number, options: TimeoutOptions = {}) {
    super(options, 'timeout');
    this.timeoutMs = checkNonNegative('timeoutMs', timeoutMs);
    const strategy = options.strategy ?? 'cooperative';
    if (strategy !== 'cooperative' && strategy !== 'aggressive') {
      throw new TypeError(
        `strategy must be "cooperative" or "aggressive", got ${String(strategy)}`,
      );
    }
    this.strategy = strategy;
    this.queue = new TimerQueue(this.timeoutMs);
    this.timeoutAttributes = {
      timeout: { [ATTR_TIMEOUT_STRATEGY]: strategy, [ATTR_TIMEOUT_SOURCE]: 'timeout' },
      deadline: { [ATTR_TIMEOUT_STRATEGY]: strategy, [ATTR_TIMEOUT_SOURCE]: 'deadline' },
    };
  }

  /** @internal */
  [RUN]<T>(fn: PolicyFunction<T>, ctx: CallContext): Promise<T> {
    const remaining = remainingMsOf(ctx.execution.scope);
    // Deadlines of the policy's own duration share one timer; a shorter caller deadline gets its own.
    const source: TimeoutSource = remaining < this.timeoutMs ? 'deadline' : 'timeout';
    const limitMs = source === 'deadline' ? remaining : this.timeoutMs;
    if (limitMs <= 0 && source === 'deadline') {
      return Promise.reject(this.timedOut(ctx, limitMs, source));
    }
    const run = new BoundedRun(this, ctx, limitMs, source);
    run.start(this.queue);
    const running = invoke(fn, ctx.withSignal(run)).then(
      (value) => {
        run.settle(this.queue);
        return value;
      },
      (error: unknown) => {
        run.settle(this.queue);
        throw run.timedOutError === undefined ? error : withCause(run.timedOutError, error);
      },
    );
    if (this.strategy === 'cooperative') return running;
    return new Promise<T>((resolve, reject) => {
      run.releaseCaller = reject;
      running.then(resolve, reject);
    });
  }

  /** Counts and reports a deadline hit, and builds the error for it. @internal */
  timedOut(ctx: CallContext, limitMs: number, source: TimeoutSource): TimeoutExceededError {
    const attributes =
      source === 'deadline' ? this.timeoutAttributes.deadline : this.timeoutAttributes.timeout;
    this.telemetry.count('timeouts', attributes);
    ctx.execution.addEvent(EVENT_TIMEOUT, attributes);
    return new TimeoutExceededError(limitMs, source);
  }
}

function withCause(error: TimeoutExceededError, cause: unknown): TimeoutExceededError {
  if (error.cause === undefined && cause !== error) {
    Object.defineProperty(error, 'cause', { value: cause, configurable: true, writable: true });
  }
  return error;
}

/**
 * Creates a {@link TimeoutPolicy}.
 * @param timeoutMs Milliseconds each execution may take (≥ 0).
 * @example
 * const t = timeout(2_000, { strategy: 'aggressive', name: 'inventory' });
 * await t.execute(({ signal }) => fetch(url, { signal }));
 */
export function timeout(timeoutMs: number, options?: TimeoutOptions): TimeoutPolicy {
  return new TimeoutPolicy(timeoutMs, options);
}
