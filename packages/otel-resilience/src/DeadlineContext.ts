import { AsyncLocalStorage } from 'node:async_hooks';
import { monotonicNow } from './clock.js';
import type { RetryBudget } from './RetryBudget.js';
import { checkNonNegativeOrInfinity } from './validate.js';

/** What an inbound request (or any caller) tells the work it starts about its limits. */
export interface DeadlineScope {
  /** Monotonic time (`performance.now()` ms) after which the caller stops waiting. */
  readonly deadline: number;
  /** The caller's signal, aborted when it gives up (client disconnected, request timed out). */
  readonly signal?: AbortSignal;
  /** The retry budget outbound calls should draw from. */
  readonly retryBudget?: RetryBudget;
}

/** Options of {@link runWithDeadline}. */
export interface RunWithDeadlineOptions {
  /** Milliseconds from now until the deadline. Default: inherit the enclosing deadline (or none). */
  readonly timeoutMs?: number;
  /** Signal to expose to nested work. Default: the enclosing scope's. */
  readonly signal?: AbortSignal;
  /** Retry budget for nested work. Default: the enclosing scope's. */
  readonly retryBudget?: RetryBudget;
}

// Created at module load but enabled only by the first run(): reading an unused store is free, and
// Node installs its async hooks only once a scope is actually entered. Kept on a global symbol so
// that every copy of this module in a process — the ESM and CJS builds side by side, or two
// installed versions — shares one store: an inbound middleware loaded through `import` must be seen
// by an outbound interceptor loaded through `require`.
const STORE_KEY = Symbol.for('otel-resilience.deadline-scope');
const globalStore = globalThis as { [STORE_KEY]?: AsyncLocalStorage<DeadlineScope> };
globalStore[STORE_KEY] ??= new AsyncLocalStorage<DeadlineScope>();
const storage: AsyncLocalStorage<DeadlineScope> = globalStore[STORE_KEY];

/**
 * Runs `fn` inside a deadline scope carried through every `await` below it. A nested scope can
 * only shorten the deadline, never extend it. Retry and timeout policies read it: no attempt
 * starts that cannot finish in time, and a timeout never outlives the caller.
 */
export function runWithDeadline<T>(options: RunWithDeadlineOptions, fn: () => T): T {
  return storage.run(deadlineScopeWithin(options), fn);
}

/**
 * The scope {@link runWithDeadline} would enter — `options` applied within the current scope —
 * without entering it: for one call's limits, `policy.execute(fn, { scope })`, where nothing
 * `fn` starts needs to see them (on Node 20 entering a scope switches on AsyncLocalStorage's
 * promise hooks for the whole process).
 * @throws TypeError when `options.timeoutMs` is negative or not a number.
 */
export function deadlineScopeWithin(options: RunWithDeadlineOptions): DeadlineScope {
  const outer = storage.getStore();
  let deadline = outer?.deadline ?? Number.POSITIVE_INFINITY;
  if (options.timeoutMs !== undefined) {
    checkNonNegativeOrInfinity('timeoutMs', options.timeoutMs);
    deadline = Math.min(deadline, monotonicNow() + options.timeoutMs);
  }
  const signal = options.signal ?? outer?.signal;
  const retryBudget = options.retryBudget ?? outer?.retryBudget;
  return {
    deadline,
    ...(signal === undefined ? {} : { signal }),
    ...(retryBudget === undefined ? {} : { retryBudget }),
  };
}

/** The deadline scope of the current async context, if any. */
export function currentDeadlineScope(): DeadlineScope | undefined {
  return storage.getStore();
}

/**
 * Milliseconds left before the current scope's deadline: `Infinity` outside any scope, never
 * negative.
 */
export function remainingTimeMs(): number {
  return remainingMsOf(storage.getStore());
}

/** Milliseconds left before `scope`'s deadline: `Infinity` without one, never negative. @internal */
export function remainingMsOf(scope: DeadlineScope | undefined): number {
  if (scope === undefined || scope.deadline === Number.POSITIVE_INFINITY) {
    return Number.POSITIVE_INFINITY;
  }
  return Math.max(0, scope.deadline - monotonicNow());
}

/**
 * Runs `fn` with exactly `scope` as the current deadline scope (no nesting rule applied): for an
 * owner whose scope is a live object, like an inbound request whose route may set a longer limit
 * than the server-wide default before the handler runs. @internal
 */
export function runInDeadlineScope<T>(scope: DeadlineScope, fn: () => T): T {
  return storage.run(scope, fn);
}
