import { remainingTimeMs } from './DeadlineContext.js';
import {
  type CallContext,
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
 * A context signal that aborts when the deadline passes or the parent's signal aborts. The
 * AbortController is created only if the function reads the signal.
 */
class DeadlineSignal implements SignalSource {
  private controller: AbortController | undefined;
  private abortReason: unknown;
  private aborted = false;
  private parentSignal: AbortSignal | undefined;

  constructor(private readonly parent: SignalSource) {}

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      const controller = new AbortController();
      this.controller = controller;
      if (this.aborted) {
        controller.abort(this.abortReason);
      } else {
        const parentSignal = this.parent.signal;
        if (parentSignal.aborted) controller.abort(parentSignal.reason);
        else if (parentSignal !== NEVER_ABORTED) {
          this.parentSignal = parentSignal;
          parentSignal.addEventListener('abort', this.onParentAbort, { once: true });
        }
      }
    }
    return this.controller.signal;
  }

  private readonly onParentAbort = (): void => {
    this.abort(this.parentSignal?.reason);
  };

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.abortReason = reason;
    this.controller?.abort(reason);
  }

  /** Detaches from the parent signal so a long-lived caller signal keeps no reference to us. */
  release(): void {
    this.parentSignal?.removeEventListener('abort', this.onParentAbort);
    this.parentSignal = undefined;
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
  private readonly attributes: {
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
    this.attributes = {
      timeout: { [ATTR_TIMEOUT_STRATEGY]: strategy, [ATTR_TIMEOUT_SOURCE]: 'timeout' },
      deadline: { [ATTR_TIMEOUT_STRATEGY]: strategy, [ATTR_TIMEOUT_SOURCE]: 'deadline' },
    };
  }

  /** @internal */
  [RUN]<T>(fn: PolicyFunction<T>, ctx: CallContext): Promise<T> {
    const remaining = remainingTimeMs();
    const source: TimeoutSource = remaining < this.timeoutMs ? 'deadline' : 'timeout';
    const limitMs = source === 'deadline' ? remaining : this.timeoutMs;
    if (limitMs <= 0 && source === 'deadline') {
      return Promise.reject(this.timedOut(ctx, limitMs, source));
    }

    const deadlineSignal = new DeadlineSignal(ctx);
    let timedOutError: TimeoutExceededError | undefined;
    let releaseCaller: ((error: TimeoutExceededError) => void) | undefined;
    const onDeadline = (): void => {
      timedOutError = this.timedOut(ctx, limitMs, source);
      deadlineSignal.abort(timedOutError);
      if (releaseCaller !== undefined) {
        deadlineSignal.release();
        releaseCaller(timedOutError);
      }
    };
    // Deadlines of the policy's own duration arrive in order and share one timer; a shorter
    // caller deadline gets a timer of its own.
    let entry: TimerEntry | undefined;
    let ownTimer: ReturnType<typeof setTimeout> | undefined;
    if (source === 'timeout') entry = this.queue.schedule(onDeadline);
    else ownTimer = setTimeout(onDeadline, limitMs);
    const settle = (): void => {
      if (entry !== undefined) this.queue.cancel(entry);
      if (ownTimer !== undefined) clearTimeout(ownTimer);
      deadlineSignal.release();
    };

    const running = invoke(fn, ctx.withSignal(deadlineSignal)).then(
      (value) => {
        settle();
        return value;
      },
      (error: unknown) => {
        settle();
        throw timedOutError === undefined ? error : withCause(timedOutError, error);
      },
    );
    if (this.strategy === 'cooperative') return running;
    return new Promise<T>((resolve, reject) => {
      releaseCaller = reject;
      running.then(resolve, reject);
    });
  }

  private timedOut(ctx: CallContext, limitMs: number, source: TimeoutSource): TimeoutExceededError {
    const attributes = source === 'deadline' ? this.attributes.deadline : this.attributes.timeout;
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
