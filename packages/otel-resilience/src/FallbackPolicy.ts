import { diag } from '@opentelemetry/api';
import type { Classification } from './classification/Classification.js';
import { type Event, EventEmitter } from './Event.js';
import type { CallContext, PolicyFunction } from './ExecuteContext.js';
import { isAbortedError } from './errors/AbortedError.js';
import { isTimeoutExceededError } from './errors/TimeoutExceededError.js';
import {
  type ExecuteOptions,
  executeCall,
  invoke,
  PolicyBase,
  type PolicyOptions,
  RUN,
} from './Policy.js';
import {
  ATTR_ERROR_CATEGORY,
  ATTR_ERROR_TYPE,
  ATTR_RESILIENCE_NAME,
  ATTR_RESILIENCE_OUTCOME,
  type AttemptOutcome,
  EVENT_FALLBACK,
} from './telemetry/attributes.js';
import { checkFunction } from './validate.js';

/** What a fallback handler (and an `onFallback` listener) learns about the failure it answers. */
export interface FallbackContext {
  /** The failure that triggered the fallback, as thrown. */
  readonly error: unknown;
  /** How the policy's classifier names that failure. */
  readonly classification: Classification;
  /**
   * Attempts the failed call made (1 without a retry policy; with one outside or inside the
   * fallback, the attempts made so far, the failed one included).
   */
  readonly attempts: number;
  /** The call's signal: pass it on if the fallback does I/O (a cache read, a second service). */
  readonly signal: AbortSignal;
}

/**
 * Produces the answer given instead of a failure; may be async. If it throws or rejects, the call
 * fails with that error (an outer fallback then gets its turn).
 */
export type FallbackHandler<R> = (failure: FallbackContext) => R | PromiseLike<R>;

/** Decides whether a failure is answered by the fallback. */
export type FallbackPredicate = (error: unknown, classification: Classification) => boolean;

/** Options of {@link fallback}. */
export interface FallbackOptions extends PolicyOptions {
  /**
   * Which failures fall back. Default: every failure. Either way a call whose caller aborted
   * never falls back: nobody is waiting for the answer. A predicate that throws counts as `false`.
   */
  readonly when?: FallbackPredicate;
}

/**
 * Built lazily so that reading `signal` — which creates a timeout's AbortController — costs
 * nothing unless the handler asks for it.
 */
class Failure implements FallbackContext {
  constructor(
    readonly error: unknown,
    readonly classification: Classification,
    readonly attempts: number,
    private readonly ctx: CallContext,
  ) {}

  get signal(): AbortSignal {
    return this.ctx.signal;
  }
}

/**
 * Answers a failed call with the value of a handler (a cached copy, a default, a second
 * provider) — graceful degradation instead of an error. Several levels chain naturally:
 * `wrap(fallback(lastResort), fallback(cache), retry(...))` tries the cache when the retried call
 * fails and the last resort when the cache fails too.
 *
 * `execute` is typed `Promise<T | R>`. Inside a pipeline the result is typed as the function's
 * (the `Policy` interface cannot widen it), so give the function the wider type there.
 */
export class FallbackPolicy<R = unknown> extends PolicyBase {
  private readonly handler: FallbackHandler<R>;
  private readonly when: FallbackPredicate | undefined;
  private readonly fallbackEmitter = new EventEmitter<FallbackContext>();

  /** Fires when a failure is about to be answered by the handler. */
  readonly onFallback: Event<FallbackContext> = this.fallbackEmitter.event;

  constructor(handler: FallbackHandler<R>, options: FallbackOptions = {}) {
    super(options, 'fallback');
    checkFunction('handler', handler);
    if (options.when !== undefined) checkFunction('when', options.when);
    this.handler = handler;
    this.when = options.when;
  }

  // The first overload types direct calls (the handler's value widens the result); the second
  // keeps the class assignable to Policy so it composes with wrap().
  override execute<T>(
    fn: PolicyFunction<T>,
    options?: AbortSignal | ExecuteOptions,
  ): Promise<T | R>;
  override execute<T>(fn: PolicyFunction<T>, options?: AbortSignal | ExecuteOptions): Promise<T>;
  override execute<T>(
    fn: PolicyFunction<T>,
    options?: AbortSignal | ExecuteOptions,
  ): Promise<T | R> {
    return executeCall<T | R>(this, fn, options);
  }

  /** @internal */
  [RUN]<T>(fn: PolicyFunction<T>, ctx: CallContext): Promise<T> {
    return invoke(fn, ctx).then(undefined, (error: unknown) => this.recover<T>(error, ctx));
  }

  private recover<T>(error: unknown, ctx: CallContext): Promise<T> {
    if (abortedByCaller(error, ctx)) return Promise.reject(error);
    const classification = ctx.execution.classify(error, this.telemetry.classifier);
    if (this.when !== undefined && !this.matches(error, classification)) {
      return Promise.reject(error);
    }
    const failure = new Failure(
      error,
      classification,
      Math.max(ctx.attempt, ctx.execution.attempts),
      ctx,
    );
    if (this.fallbackEmitter.hasListeners) this.fallbackEmitter.emit(failure);
    let answer: Promise<R>;
    try {
      answer = Promise.resolve(this.handler(failure));
    } catch (handlerError) {
      answer = Promise.reject(handlerError);
    }
    // The policy's contract is T; the handler's R is the caller's declared alternative.
    return answer.then(
      (value) => {
        this.record('success', classification, ctx);
        return value as unknown as T;
      },
      (handlerError: unknown) => {
        this.record('failure', classification, ctx);
        throw handlerError;
      },
    );
  }

  private matches(error: unknown, classification: Classification): boolean {
    try {
      return Boolean(this.when!(error, classification));
    } catch (predicateError) {
      diag.error(
        'otel-resilience: a fallback `when` predicate threw; not falling back',
        predicateError,
      );
      return false;
    }
  }

  /** Counts the fallback by its own outcome and the original failure's type and category. */
  private record(outcome: AttemptOutcome, failure: Classification, ctx: CallContext): void {
    this.telemetry.count('fallbacks', {
      [ATTR_RESILIENCE_OUTCOME]: outcome,
      [ATTR_ERROR_TYPE]: failure.errorType,
      [ATTR_ERROR_CATEGORY]: failure.category,
    });
    ctx.execution.addEvent(EVENT_FALLBACK, {
      [ATTR_RESILIENCE_NAME]: this.name,
      [ATTR_RESILIENCE_OUTCOME]: outcome,
      [ATTR_ERROR_TYPE]: failure.errorType,
      [ATTR_ERROR_CATEGORY]: failure.category,
    });
  }
}

/**
 * The caller gave up: a policy reported its abort, or the call's signal aborted for a reason other
 * than a timeout's deadline (a fallback inside a timeout still answers a timed-out attempt).
 */
function abortedByCaller(error: unknown, ctx: CallContext): boolean {
  if (isAbortedError(error)) return true;
  const signal = ctx.signal;
  return signal.aborted && !isTimeoutExceededError(signal.reason);
}

/**
 * Creates a {@link FallbackPolicy}.
 * @param handler Produces the answer for a failed call; receives the error, its classification,
 *   the attempts made and the call's signal.
 * @param options `when` (default: every failure but a caller's abort), `name` (default
 *   `'fallback'`), `classifier` (default: the default classifier).
 * @example
 * const cached = fallback(({ classification }) => cache.get(key), {
 *   when: (_, c) => c.category !== 'data',
 * });
 * const product = await cached.execute(({ signal }) => api.product(key, { signal }));
 */
export function fallback<R>(
  handler: FallbackHandler<R>,
  options?: FallbackOptions,
): FallbackPolicy<R> {
  return new FallbackPolicy(handler, options);
}

/**
 * Function-level fallback that keeps the arguments: the returned function calls
 * `primary(...args)` and, when it fails, each alternative with the same arguments in turn,
 * resolving with the first value obtained. When every function fails it rejects with the last
 * error — not an AggregateError, so a retry or breaker around it still classifies the failure
 * (an AggregateError would only ever be `unknown`). An `AbortedError` stops the chain at once: the
 * caller gave up. No telemetry: use {@link fallback} in a pipeline for spans and metrics.
 * @example
 * const price = withFallback(livePrice, cachedPrice, () => undefined);
 * await price(sku, currency);
 */
export function withFallback<A extends unknown[], R>(
  primary: (...args: A) => R | PromiseLike<R>,
  ...alternatives: Array<(...args: A) => R | PromiseLike<R>>
): (...args: A) => Promise<R> {
  checkFunction('primary', primary);
  alternatives.forEach((alternative, index) => {
    checkFunction(`alternatives[${index}]`, alternative);
  });
  const chain = [primary, ...alternatives];
  return async (...args: A): Promise<R> => {
    let lastError: unknown;
    for (const fn of chain) {
      try {
        return await fn(...args);
      } catch (error) {
        if (isAbortedError(error)) throw error;
        lastError = error;
      }
    }
    throw lastError;
  };
}
