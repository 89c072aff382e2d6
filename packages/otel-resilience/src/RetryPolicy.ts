import { AsyncResource } from 'node:async_hooks';
import { context, diag, type Span, SpanStatusCode, trace } from '@opentelemetry/api';
import { type AbortListener, unwatchAbort, watchAbort } from './abortWatch.js';
import type { Backoff } from './backoff/Backoff.js';
import { exponentialBackoff } from './backoff/ExponentialBackoff.js';
import {
  type Classification,
  ERROR_CATEGORIES,
  type ErrorCategory,
} from './classification/Classification.js';
import { type CategoryStrategy, DEFAULT_DECISION_MATRIX } from './classification/decisionMatrix.js';
import { monotonicNow } from './clock.js';
import { remainingMsOf } from './DeadlineContext.js';
import { type Event, EventEmitter } from './Event.js';
import {
  type CallContext,
  type ExecuteContext,
  NEVER_ABORTED,
  type PolicyFunction,
} from './ExecuteContext.js';
import { AbortedError } from './errors/AbortedError.js';
import { invoke, PolicyBase, type PolicyOptions, RUN } from './Policy.js';
import type { RetryBudget } from './RetryBudget.js';
import {
  ATTR_ATTEMPT,
  ATTR_ERROR_CATEGORY,
  ATTR_ERROR_TYPE,
  ATTR_RETRY_DECISION,
  ATTR_RETRY_DELAY_MS,
  ATTR_RETRY_REASON,
  EVENT_GIVE_UP,
  EVENT_RETRY,
  EVENT_RETRY_SKIPPED,
  type RetryDecision,
  type RetryDecisionReason,
} from './telemetry/attributes.js';
import type { Execution } from './telemetry/Execution.js';
import { tracer } from './telemetry/tracer.js';
import { checkFunction, checkInteger, checkNonNegativeOrInfinity } from './validate.js';

/**
 * The backoff of categories the decision matrix gives none (`system`, `unknown`, results) when
 * the policy's `backoff` option is not set: exponential from 100 ms, doubling, capped at 30 s,
 * with full jitter — the AWS recommendation for many clients retrying one dependency.
 */
export const DEFAULT_RETRY_BACKOFF: Backoff = exponentialBackoff({
  initialDelayMs: 100,
  maxDelayMs: 30_000,
  jitter: 'full',
});

/** What failed: the attempt's error, or its result when `retryOnResult` rejected it. */
export type RetryFailure =
  | { readonly error: unknown; readonly result?: never }
  | { readonly result: unknown; readonly error?: never };

/** Payload of {@link RetryPolicy.onRetry}. */
export type RetryEvent = RetryFailure & {
  /** The attempt that failed (its `ExecuteContext.attempt`, starting at 1). */
  readonly attempt: number;
  /** Milliseconds the policy waits before the next attempt (Retry-After included). */
  readonly delayMs: number;
  /** How the failure was classified (a rejected result is `unknown` / `_OTHER`). */
  readonly classification: Classification;
};

/** Why a retry policy stopped: a {@link RetryDecisionReason} other than `retryable`. */
export type GiveUpReason = Exclude<RetryDecisionReason, 'retryable'>;

/** Payload of {@link RetryPolicy.onGiveUp}. */
export type GiveUpEvent = RetryFailure & {
  /** Attempts this policy made in the call. */
  readonly attempts: number;
  /** Why no further attempt is made. */
  readonly reason: GiveUpReason;
  /** How the last failure was classified. */
  readonly classification: Classification;
};

/** Options of {@link retry}. */
export interface RetryOptions extends PolicyOptions {
  /**
   * Total attempts per call, the first one included: an integer ≥ 1, or `Infinity` to retry until
   * another limit (deadline, budget, abort) stops it. Default 3. A category's `maxAttempts` in
   * the default decision matrix may lower it (`system`: 2); one in `strategies` replaces it.
   */
  readonly maxAttempts?: number;
  /**
   * Waits between attempts for every category whose strategy names no backoff. Default: the
   * decision matrix's backoff per category (exponential for `transient`, aggressive 3^n for
   * `rate_limited`, linear for `timeout`), else {@link DEFAULT_RETRY_BACKOFF}.
   */
  readonly backoff?: Backoff;
  /**
   * Per-category overrides of {@link DEFAULT_DECISION_MATRIX}, field by field: `retry` forces
   * retrying (or not) a category, `maxAttempts` replaces the policy's for it, `backoff` its waits.
   */
  readonly strategies?: Readonly<Partial<Record<ErrorCategory, CategoryStrategy>>>;
  /**
   * Decides whether an error is retried: `true`/`false` override the classification and the
   * strategies, `undefined` defers to them. A predicate that throws is reported and defers.
   */
  readonly retryOn?: (error: unknown, classification: Classification) => boolean | undefined;
  /**
   * Retries when an attempt *resolves* with an unacceptable value (`true` = retry). When the
   * retries run out the call resolves with the last value. A predicate that throws is reported and
   * accepts the value. Default: results are never retried.
   */
  readonly retryOnResult?: (result: unknown, context: ExecuteContext) => boolean;
  /**
   * Longest Retry-After hint, in milliseconds, the policy is willing to wait for (≥ 0 or Infinity):
   * a longer one gives up at once (`retry_after_too_long`) rather than holding the caller.
   * Default 60_000.
   */
  readonly maxRetryAfterMs?: number;
  /**
   * Retry budget every retry must withdraw a token from; each call deposits into it. Default: the
   * `retryBudget` of the current deadline scope ({@link runWithDeadline}), else none. `null`: no
   * budget, not even the scope's.
   */
  readonly budget?: RetryBudget | null;
  /** Source of uniform numbers in [0, 1] for jittered backoffs. Default `Math.random`. */
  readonly random?: () => number;
}

/** A strategy with every fallback applied. */
interface ResolvedStrategy {
  readonly retry: boolean | undefined;
  readonly maxAttempts: number;
  readonly backoff: Backoff;
}

/** How a result rejected by `retryOnResult` appears in telemetry (as `Execution` classifies it). */
const RESULT_CLASSIFICATION: Classification = Object.freeze({
  category: 'unknown',
  retryable: true,
  errorType: '_OTHER',
});

const ERROR_STATUS = Object.freeze({ code: SpanStatusCode.ERROR });

/** Node's largest timer delay; longer ones would fire after 1 ms. */
const MAX_DELAY_MS = 2_147_483_647;

/** Returned by `decide` when no retry follows. */
const STOP = -1;

/** How a {@link RetryCall} goes on once its wait ends: through its policy's private members. */
interface RetryContinuations {
  /** Makes the attempts after the wait of `call`. */
  readonly resume: <T>(call: RetryCall<T>) => void;
  /** Ends `call` with `error`: its signal aborted during the wait. */
  readonly abort: <T>(call: RetryCall<T>, error: AbortedError) => void;
}

/**
 * Retries a failing function, deciding per failure from its classification (see
 * {@link DEFAULT_DECISION_MATRIX}): non-retryable categories fail at once, rate limits back off
 * hard and never retry before a Retry-After hint, and no retry starts that the caller's deadline,
 * the retry budget or an abort would waste. Every attempt gets its own span under the call span,
 * every decision a `resilience.retry.decisions` count and a span event.
 */
export class RetryPolicy extends PolicyBase {
  /** Total attempts per call, the first included. */
  readonly maxAttempts: number;
  /** Longest Retry-After hint, in milliseconds, the policy waits for. */
  readonly maxRetryAfterMs: number;

  private readonly retryEmitter = new EventEmitter<RetryEvent>();
  private readonly giveUpEmitter = new EventEmitter<GiveUpEvent>();
  /** Fires before each wait for a retry. A listener that throws is reported and ignored. */
  readonly onRetry: Event<RetryEvent> = this.retryEmitter.event;
  /** Fires when the policy stops retrying a failed call, with the reason. */
  readonly onGiveUp: Event<GiveUpEvent> = this.giveUpEmitter.event;

  private readonly strategies: Readonly<Record<string, ResolvedStrategy>>;
  private readonly unknownStrategy: ResolvedStrategy;
  private readonly budget: RetryBudget | null | undefined;
  private readonly retryOn: RetryOptions['retryOn'];
  private readonly retryOnResult: RetryOptions['retryOnResult'];
  private readonly random: () => number;
  /** Handed to every {@link RetryCall}, whose timer and abort callbacks run outside the class. */
  private readonly continuations: RetryContinuations = {
    resume: (call) => {
      this.attempt(call.fn, call.ctx, call).then(undefined, (error) => call.fail(error));
    },
    abort: (call, error) => {
      this.emitGiveUp(call.attempts, 'aborted', call.classification, call.threw, call.failure);
      call.fail(error);
    },
  };

  constructor(options: RetryOptions = {}) {
    super(options, 'retry');
    this.maxAttempts =
      options.maxAttempts === undefined
        ? 3
        : checkInteger('maxAttempts', options.maxAttempts, 1, true);
    this.maxRetryAfterMs =
      options.maxRetryAfterMs === undefined
        ? 60_000
        : checkNonNegativeOrInfinity('maxRetryAfterMs', options.maxRetryAfterMs);
    if (options.backoff !== undefined) checkBackoff('backoff', options.backoff);
    this.strategies = resolveStrategies(options.strategies, this.maxAttempts, options.backoff);
    this.unknownStrategy = this.strategies.unknown!;
    if (options.retryOn !== undefined) checkFunction('retryOn', options.retryOn);
    if (options.retryOnResult !== undefined) checkFunction('retryOnResult', options.retryOnResult);
    if (options.random !== undefined) checkFunction('random', options.random);
    const budget = options.budget;
    if (
      budget !== undefined &&
      budget !== null &&
      (typeof budget !== 'object' ||
        typeof budget.tryWithdraw !== 'function' ||
        typeof budget.recordCall !== 'function')
    ) {
      throw new TypeError(`budget must be a RetryBudget or null, got ${String(budget)}`);
    }
    this.budget = budget;
    this.retryOn = options.retryOn;
    this.retryOnResult = options.retryOnResult;
    this.random = options.random ?? Math.random;
  }

  /** @internal */
  [RUN]<T>(fn: PolicyFunction<T>, ctx: CallContext): Promise<T> {
    return this.attempt(fn, ctx, undefined) as Promise<T>;
  }

  /**
   * Makes the attempts of a call until it ends or a retry has to wait. The first attempts (no
   * `call`) settle as the call does, except at the first wait: they then return a
   * {@link RetryCall}, which the call's promise adopts and which makes the remaining attempts.
   * Those (after a wait of `call`) settle the call's promise themselves: this one resolves with
   * the result, or with `undefined` when another wait begins, and rejects with the call's error.
   *
   * A wait is never awaited here: a suspended async frame keeps every local of the loop alive
   * and, with the promise, closures and abort listener of each wait, made a retry waiting in
   * backoff cost 1.2–1.6 KB; a RetryCall in its place keeps it under 1 KB.
   */
  private async attempt<T>(
    fn: PolicyFunction<T>,
    ctx: CallContext,
    call: RetryCall<T> | undefined,
  ): Promise<T | undefined> {
    let budget: RetryBudget | undefined;
    let attempts = 0;
    let previousDelayMs = 0;
    if (call === undefined) {
      budget =
        this.budget === undefined ? ctx.execution.scope?.retryBudget : (this.budget ?? undefined);
      budget?.recordCall();
    } else {
      budget = call.budget;
      attempts = call.attempts;
      previousDelayMs = call.previousDelayMs;
    }
    const execution = ctx.execution;
    let attemptCtx = attempts === 0 ? ctx : ctx.withAttempt(ctx.attempt + attempts);
    for (;;) {
      attempts++;
      const start = execution.timed ? monotonicNow() : 0;
      const span =
        execution.span === undefined ? undefined : startAttemptSpan(execution, attemptCtx.attempt);
      let result: T | undefined;
      let error: unknown;
      let threw = false;
      try {
        result = await (span === undefined
          ? invoke(fn, attemptCtx)
          : context.with(
              trace.setSpan(context.active(), span),
              invoke<T>,
              undefined,
              fn,
              attemptCtx,
            ));
      } catch (caught) {
        threw = true;
        error = caught;
      }
      let classification: Classification;
      if (threw) {
        classification = execution.classify(error, this.telemetry.classifier);
      } else if (this.retryOnResult !== undefined && this.rejects(result, attemptCtx)) {
        classification = RESULT_CLASSIFICATION;
      } else {
        span?.end();
        execution.recordAttempt(start, undefined, false);
        call?.resolve(result as T);
        return result;
      }
      if (span !== undefined) endFailedAttempt(span, classification);
      execution.recordAttempt(start, error, true);

      const failure = threw ? error : result;
      const delayMs = this.decide(
        attemptCtx,
        attempts,
        classification,
        previousDelayMs,
        threw,
        failure,
        budget,
      );
      if (delayMs === STOP) {
        if (threw) throw error;
        call?.resolve(result as T);
        return result;
      }
      if (delayMs > 0) {
        const waiting = call ?? new RetryCall(this.continuations, fn, ctx, budget);
        waiting.attempts = attempts;
        waiting.previousDelayMs = delayMs;
        waiting.classification = classification;
        waiting.threw = threw;
        waiting.failure = failure;
        waiting.wait(delayMs, attemptCtx.signal);
        // The first attempts hand the call over: its promise adopts the thenable RetryCall.
        return call === undefined ? (waiting as unknown as PromiseLike<T>) : undefined;
      }
      previousDelayMs = delayMs;
      attemptCtx = ctx.withAttempt(ctx.attempt + attempts);
    }
  }

  /** Milliseconds to wait before the next attempt, or {@link STOP}; records the decision. */
  private decide(
    ctx: CallContext,
    attempts: number,
    classification: Classification,
    previousDelayMs: number,
    threw: boolean,
    failure: unknown,
    budget: RetryBudget | undefined,
  ): number {
    const next = this.nextDelay(ctx, attempts, classification, previousDelayMs, threw, failure);
    if (typeof next === 'number' && (budget === undefined || budget.tryWithdraw())) {
      this.record(ctx, 'retry', 'retryable', classification, next);
      if (this.retryEmitter.hasListeners) {
        const base = { attempt: ctx.attempt, delayMs: next, classification };
        this.retryEmitter.emit(threw ? { ...base, error: failure } : { ...base, result: failure });
      }
      return next;
    }
    // The budget is consulted last so that a retry skipped for another reason spends no token.
    const reason = typeof next === 'number' ? 'budget' : next;
    this.record(
      ctx,
      reason === 'max_attempts' ? 'give_up' : 'skipped',
      reason,
      classification,
      undefined,
    );
    this.emitGiveUp(attempts, reason, classification, threw, failure);
    return STOP;
  }

  /** The wait before the next attempt, or why there is none (the budget aside). */
  private nextDelay(
    ctx: CallContext,
    attempts: number,
    classification: Classification,
    previousDelayMs: number,
    threw: boolean,
    failure: unknown,
  ): number | GiveUpReason {
    const strategy = this.strategies[classification.category] ?? this.unknownStrategy;
    if (threw) {
      let retryable = strategy.retry ?? classification.retryable;
      if (this.retryOn !== undefined) {
        const verdict = callHook(this.retryOn, failure, classification);
        if (verdict === true || verdict === false) retryable = verdict;
      }
      if (!retryable) return 'non_retryable';
    }
    if (attempts >= strategy.maxAttempts) return 'max_attempts';
    const retryAfterMs = classification.retryAfterMs;
    if (retryAfterMs !== undefined && retryAfterMs > this.maxRetryAfterMs) {
      return 'retry_after_too_long';
    }
    let delayMs = strategy.backoff.delayMs(attempts, previousDelayMs, this.random);
    if (!(delayMs >= 0)) delayMs = 0;
    // Never earlier than the server asked; whole milliseconds rounded up for the same reason.
    if (retryAfterMs !== undefined && retryAfterMs > delayMs) delayMs = retryAfterMs;
    delayMs = Math.min(Math.ceil(delayMs), MAX_DELAY_MS);
    // An attempt starting at (or after) the deadline could not finish in time.
    if (delayMs >= remainingMsOf(ctx.execution.scope)) return 'deadline';
    if (ctx.signal.aborted) return 'aborted';
    return delayMs;
  }

  private rejects(result: unknown, ctx: ExecuteContext): boolean {
    return callHook(this.retryOnResult!, result, ctx) === true;
  }

  /** Counts the decision and adds its span event to the call span. */
  private record(
    ctx: CallContext,
    decision: RetryDecision,
    reason: RetryDecisionReason,
    classification: Classification,
    delayMs: number | undefined,
  ): void {
    this.telemetry.count('retryDecisions', {
      [ATTR_RETRY_DECISION]: decision,
      [ATTR_RETRY_REASON]: reason,
      [ATTR_ERROR_CATEGORY]: classification.category,
    });
    const execution = ctx.execution;
    if (execution.span === undefined) return;
    execution.addEvent(
      decision === 'retry'
        ? EVENT_RETRY
        : decision === 'give_up'
          ? EVENT_GIVE_UP
          : EVENT_RETRY_SKIPPED,
      delayMs === undefined
        ? {
            [ATTR_ATTEMPT]: ctx.attempt,
            [ATTR_RETRY_REASON]: reason,
            [ATTR_ERROR_TYPE]: classification.errorType,
            [ATTR_ERROR_CATEGORY]: classification.category,
          }
        : {
            [ATTR_ATTEMPT]: ctx.attempt,
            [ATTR_RETRY_REASON]: reason,
            [ATTR_ERROR_TYPE]: classification.errorType,
            [ATTR_ERROR_CATEGORY]: classification.category,
            [ATTR_RETRY_DELAY_MS]: delayMs,
          },
    );
  }

  private emitGiveUp(
    attempts: number,
    reason: GiveUpReason,
    classification: Classification,
    threw: boolean,
    failure: unknown,
  ): void {
    if (!this.giveUpEmitter.hasListeners) return;
    const base = { attempts, reason, classification };
    this.giveUpEmitter.emit(threw ? { ...base, error: failure } : { ...base, result: failure });
  }
}

/** Starts the span of one attempt, a child of the active (call) span. */
function startAttemptSpan(execution: Execution, attempt: number): Span {
  const span = tracer().startSpan(
    execution.telemetry.attemptSpanName,
    execution.telemetry.spanOptions,
  );
  span.setAttribute(ATTR_ATTEMPT, attempt);
  return span;
}

function endFailedAttempt(span: Span, classification: Classification): void {
  // No message and no recordException(): messages carry URLs, SQL values and tokens.
  span.setAttribute(ATTR_ERROR_TYPE, classification.errorType);
  span.setAttribute(ATTR_ERROR_CATEGORY, classification.category);
  span.setStatus(ERROR_STATUS);
  span.end();
}

/** Calls a user predicate; one that throws is reported and answers `undefined`. */
function callHook<A, B, R>(hook: (a: A, b: B) => R, a: A, b: B): R | undefined {
  try {
    return hook(a, b);
  } catch (error) {
    diag.error('otel-resilience: a retry predicate threw; the call continues', error);
    return undefined;
  }
}

/**
 * A call whose retry waits for its backoff, holding what the next attempt and an abort need. It,
 * its Node timer and a set entry on the caller's signal are all that a waiting retry keeps.
 *
 * It is an AsyncResource so that the rest of the call runs in the call's async context (active
 * span, deadline scope, the caller's AsyncLocalStorage stores) whoever fires the timer: fake
 * timers call back from the test's context, where an awaited sleep would have restored the call's.
 */
class RetryCall<T> extends AsyncResource implements AbortListener {
  /** Settles the call's promise, from {@link then}. */
  resolve: (value: T | PromiseLike<T>) => void = ignore;
  /** Attempts made so far. */
  attempts = 0;
  /** The wait in progress, the next backoff's `previousDelayMs`. */
  previousDelayMs = 0;
  /** The failure before the wait, for the give-up event if an abort ends the wait. */
  classification: Classification = RESULT_CLASSIFICATION;
  threw = false;
  failure: unknown;
  /** The wait's timer, while it runs. */
  timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly continuations: RetryContinuations,
    readonly fn: PolicyFunction<T>,
    /** The call's context (its first attempt's). */
    readonly ctx: CallContext,
    readonly budget: RetryBudget | undefined,
  ) {
    super('otel-resilience.RetryCall');
  }

  /**
   * Takes over the call's promise. The first attempts' async function returns this object, and
   * the promise it already gave the caller adopts it through this method — receiving the
   * promise's own resolving functions costs no second promise and no reaction linking the two.
   */
  // biome-ignore lint/suspicious/noThenProperty: a thenable on purpose, adopted once (see above).
  then(resolve: (value: T | PromiseLike<T>) => void): void {
    // Its reject function is not kept: one closure less per waiting call. See fail().
    this.resolve = resolve;
  }

  /** Rejects the call's promise with `error`, through `resolve`. */
  fail(error: unknown): void {
    this.resolve(rejecting(error));
  }

  /** Makes the next attempt in `delayMs`, or ends the call as soon as `signal` aborts. */
  wait(delayMs: number, signal: AbortSignal): void {
    // The call's argument rather than a closure: one object less per wait.
    this.timer = setTimeout(wake, delayMs, this);
    // A signal an onRetry listener has just aborted is refused: the wait runs its course, as an
    // abort listener added too late always let it.
    if (signal !== NEVER_ABORTED) watchAbort(signal, this);
  }

  /** Ends the wait, and the call, when the call's signal aborts. */
  handleAbort(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const error = new AbortedError(this.ctx.signal.reason);
    // After abort() returns, in the call's context: where the awaited sleep used to reject.
    queueMicrotask(() => this.runInAsyncScope(this.continuations.abort, undefined, this, error));
  }
}

/** Timer callback ending a {@link RetryCall}'s wait. */
function wake<T>(call: RetryCall<T>): void {
  call.timer = undefined;
  const signal = call.ctx.signal;
  if (signal !== NEVER_ABORTED) unwatchAbort(signal, call);
  // In a microtask, in the call's context: where the awaited sleep used to resume the call.
  queueMicrotask(() => call.runInAsyncScope(call.continuations.resume, undefined, call));
}

function ignore(): void {}

/** A thenable that rejects with `error`: a promise resolved with it rejects. */
function rejecting(error: unknown): PromiseLike<never> {
  const rejection = {
    // biome-ignore lint/suspicious/noThenProperty: a thenable on purpose (see RetryCall.fail).
    then(_: unknown, reject: (reason: unknown) => void): void {
      reject(error);
    },
  };
  return rejection as unknown as PromiseLike<never>;
}

function checkBackoff(option: string, value: unknown): Backoff {
  if (
    typeof value !== 'object' ||
    value === null ||
    typeof (value as Backoff).delayMs !== 'function'
  ) {
    throw new TypeError(
      `${option} must be a Backoff (an object with delayMs()), got ${String(value)}`,
    );
  }
  return value as Backoff;
}

/** The strategy of every category with the fallbacks applied once, at construction. */
function resolveStrategies(
  overrides: RetryOptions['strategies'],
  maxAttempts: number,
  backoff: Backoff | undefined,
): Record<string, ResolvedStrategy> {
  if (overrides !== undefined && (typeof overrides !== 'object' || overrides === null)) {
    throw new TypeError(
      `strategies must be an object keyed by error category, got ${String(overrides)}`,
    );
  }
  for (const key of Object.keys(overrides ?? {})) {
    if (!ERROR_CATEGORIES.includes(key as ErrorCategory)) {
      throw new TypeError(
        `strategies has an unknown category ${JSON.stringify(key)}; expected one of ${ERROR_CATEGORIES.join(', ')}`,
      );
    }
  }
  // No prototype: a category string from a faulty classifier must not find `toString` & co.
  const resolved: Record<string, ResolvedStrategy> = Object.create(null);
  for (const category of ERROR_CATEGORIES) {
    const own = overrides?.[category];
    const fallback = DEFAULT_DECISION_MATRIX[category];
    const option = `strategies.${category}`;
    if (own !== undefined && (typeof own !== 'object' || own === null)) {
      throw new TypeError(`${option} must be an object, got ${String(own)}`);
    }
    if (own?.retry !== undefined && typeof own.retry !== 'boolean') {
      throw new TypeError(`${option}.retry must be a boolean, got ${String(own.retry)}`);
    }
    resolved[category] = Object.freeze({
      retry: own?.retry,
      maxAttempts:
        own?.maxAttempts !== undefined
          ? checkInteger(`${option}.maxAttempts`, own.maxAttempts, 1, true)
          : Math.min(maxAttempts, fallback.maxAttempts ?? Number.POSITIVE_INFINITY),
      backoff:
        own?.backoff !== undefined
          ? checkBackoff(`${option}.backoff`, own.backoff)
          : (backoff ?? fallback.backoff ?? DEFAULT_RETRY_BACKOFF),
    });
  }
  return resolved;
}

/**
 * Creates a {@link RetryPolicy}.
 * @example
 * const policy = retry({ name: 'inventory', maxAttempts: 4 });
 * policy.onGiveUp(({ reason, attempts }) => log.warn({ reason, attempts }, 'inventory gave up'));
 * await policy.execute(({ signal }) => fetch(url, { signal }));
 */
export function retry(options?: RetryOptions): RetryPolicy {
  return new RetryPolicy(options);
}
