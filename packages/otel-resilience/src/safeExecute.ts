import { diag } from '@opentelemetry/api';
import type { Classification } from './classification/Classification.js';
import { type Classifier, defaultClassifier } from './classification/Classifier.js';
import { type PolicyFunction, singleAttemptContext } from './ExecuteContext.js';
import type { Policy } from './Policy.js';
import { checkFunction } from './validate.js';

/** Options of {@link safeExecute}. */
export interface SafeExecuteOptions {
  /** Policy (or pipeline) to run `fn` through, e.g. a retry. Default: `fn` runs once, as is. */
  readonly policy?: Policy;
  /** Lets the caller abort; `fn` sees it as its context's signal. Default: none. */
  readonly signal?: AbortSignal;
  /**
   * Told about every failure answered with the default (log it, count it). Whatever it throws or
   * rejects with is reported through the OpenTelemetry diag logger and never changes the result.
   */
  readonly onError?: (error: unknown, classification: Classification) => unknown;
  /** Classifier naming the failure for `onError`. Default: {@link defaultClassifier}. */
  readonly classifier?: Classifier;
}

/**
 * The default of {@link safeExecute}: a value, or a function of the failure computing one. To
 * default to a function value, return it from a function: `() => noop`.
 */
export type SafeDefault<D> = D | ((error: unknown) => D);

/**
 * Runs `fn` — for an optional feature that must never break the main flow — and answers any
 * failure (a caller's abort included) with `defaultValue`, or with `defaultValue(error)` when it
 * is a function. Rejects only if that default function itself throws.
 * @example
 * const recommendations = await safeExecute(() => recommender.forUser(id), [], {
 *   policy: retry({ maxAttempts: 2 }),
 *   onError: (error, { category }) => log.warn({ category }, 'recommendations unavailable'),
 * });
 */
export function safeExecute<T, D>(
  fn: PolicyFunction<T>,
  defaultValue: SafeDefault<D>,
  options: SafeExecuteOptions = {},
): Promise<T | D> {
  checkFunction('fn', fn);
  if (options.onError !== undefined) checkFunction('onError', options.onError);
  const policy = options.policy;
  if (policy !== undefined && typeof (policy as Partial<Policy> | null)?.execute !== 'function') {
    throw new TypeError(`policy must be a policy, got ${String(policy)}`);
  }
  return run(fn, defaultValue, options);
}

async function run<T, D>(
  fn: PolicyFunction<T>,
  defaultValue: SafeDefault<D>,
  { policy, signal, onError, classifier }: SafeExecuteOptions,
): Promise<T | D> {
  try {
    if (policy !== undefined) return await policy.execute(fn, signal);
    return await fn(singleAttemptContext(signal));
  } catch (error) {
    if (onError !== undefined) {
      notify(onError, error, (classifier ?? defaultClassifier).classify(error));
    }
    return typeof defaultValue === 'function'
      ? (defaultValue as (error: unknown) => D)(error)
      : defaultValue;
  }
}

function notify(
  hook: NonNullable<SafeExecuteOptions['onError']>,
  error: unknown,
  classification: Classification,
): void {
  try {
    const result = hook(error, classification);
    if (typeof (result as PromiseLike<unknown> | undefined)?.then === 'function') {
      (result as PromiseLike<unknown>).then(undefined, report);
    }
  } catch (hookError) {
    report(hookError);
  }
}

function report(error: unknown): void {
  diag.error('otel-resilience: a safeExecute onError hook threw; the default is returned', error);
}
