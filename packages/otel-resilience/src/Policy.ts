import { context, trace } from '@opentelemetry/api';
import type { Classifier } from './classification/Classifier.js';
import { defaultClassifier } from './classification/Classifier.js';
import { monotonicNow } from './clock.js';
import { currentDeadlineScope, type DeadlineScope } from './DeadlineContext.js';
import {
  CallContext,
  type PolicyFunction,
  type SignalSource,
  signalSourceOf,
} from './ExecuteContext.js';
import { AbortedError } from './errors/AbortedError.js';
import { localDurationsActive } from './telemetry/durations.js';
import { Execution } from './telemetry/Execution.js';
import { instruments } from './telemetry/metrics.js';
import { PolicyTelemetry } from './telemetry/PolicyTelemetry.js';
import { tracer } from './telemetry/tracer.js';
import { checkAttributes, checkName } from './validate.js';

/** Internal entry point policies use to run inside a call another policy started. @internal */
export const RUN: unique symbol = Symbol('otel-resilience.run');

/**
 * The interface every policy and pipeline shares.
 */
export interface Policy {
  /** Name reported as `resilience.name` on every span and metric of this policy. */
  readonly name: string;
  /**
   * Runs `fn` under this policy as one logical call: one call span, one `resilience.call.duration`
   * measurement. A `signal` (or `options.signal`) lets the caller abort: waits stop at once and `fn`
   * sees the abort through its context's signal. `options.scope` sets the call's deadline and retry
   * budget without a deadline scope around it (see {@link ExecuteOptions}).
   * @throws TypeError (as a rejection) when the second argument is neither a signal nor options.
   */
  execute<T>(fn: PolicyFunction<T>, options?: AbortSignal | ExecuteOptions): Promise<T>;
  /** @internal Runs `fn` as part of a call another policy started. */
  [RUN]<T>(fn: PolicyFunction<T>, context: CallContext): Promise<T>;
}

/** The second argument of {@link Policy.execute}, when more than a signal. */
export interface ExecuteOptions {
  /** Lets the caller abort the call. Default: the signal of the call's deadline scope. */
  readonly signal?: AbortSignal;
  /**
   * The deadline, signal and retry budget this call works within, in place of the current
   * deadline scope's: build one with `deadlineScopeWithin({ timeoutMs, retryBudget })`. Unlike
   * `runWithDeadline`, nothing `fn` starts sees it, and no async context is entered (on Node 20,
   * entering one switches on AsyncLocalStorage's promise hooks for the whole process).
   * Default: the current deadline scope.
   */
  readonly scope?: DeadlineScope;
}

/** Options every policy accepts. */
export interface PolicyOptions {
  /**
   * Name reported as `resilience.name` (keep it low-cardinality: a dependency or operation, never
   * an id). Default: the policy kind (`retry`, `circuit_breaker`, `timeout`, ...).
   */
  readonly name?: string;
  /** Classifier naming failures in telemetry (and, for retry, deciding). Default: {@link defaultClassifier}. */
  readonly classifier?: Classifier;
  /**
   * Constant attributes added to this policy's spans, duration histograms and counter/gauge series
   * (for example `{ 'server.address': host }` on an HTTP client's per-host pipeline). Values must
   * be bounded: one per policy, never an id or a URL. Keys may not override the package's own
   * (`resilience.*`, `error.type`). Default: none.
   */
  readonly attributes?: Readonly<Record<string, string>>;
}

/** Shared implementation of {@link Policy.execute}. @internal */
export abstract class PolicyBase implements Policy {
  readonly name: string;
  /** @internal */
  readonly telemetry: PolicyTelemetry;

  constructor(options: PolicyOptions | undefined, defaultName: string) {
    this.name = options?.name === undefined ? defaultName : checkName('name', options.name);
    this.telemetry = new PolicyTelemetry(
      this.name,
      options?.classifier ?? defaultClassifier,
      checkAttributes('attributes', options?.attributes),
    );
  }

  /**
   * The constant attributes given at construction (`options.attributes`), e.g. the
   * `server.address` of a per-host breaker; `undefined` when none.
   */
  get attributes(): Readonly<Record<string, string>> | undefined {
    return this.telemetry.attributes;
  }

  execute<T>(fn: PolicyFunction<T>, options?: AbortSignal | ExecuteOptions): Promise<T> {
    return executeCall(this, fn, options);
  }

  abstract [RUN]<T>(fn: PolicyFunction<T>, context: CallContext): Promise<T>;
}

/**
 * Starts a logical call: the call span (made active so spans created by `fn` nest under it), the
 * clock when anything records, and the call's metrics when it settles.
 * @internal
 */
export function executeCall<T>(
  policy: Policy & { readonly telemetry: PolicyTelemetry },
  fn: PolicyFunction<T>,
  options: AbortSignal | ExecuteOptions | undefined,
): Promise<T> {
  let explicitSignal: AbortSignal | undefined;
  let scope: DeadlineScope | undefined;
  if (options === undefined) scope = currentDeadlineScope();
  else if (isSignal(options)) {
    explicitSignal = options;
    scope = currentDeadlineScope();
  } else if (typeof options === 'object' && options !== null) {
    explicitSignal = options.signal;
    scope = options.scope ?? currentDeadlineScope();
  } else {
    return Promise.reject(
      new TypeError(
        `execute(fn, options): options must be an AbortSignal or { signal, scope }, got ${String(options)}`,
      ),
    );
  }
  // Work started inside a deadline scope stops when the scope's caller gives up.
  const signal = explicitSignal ?? scope?.signal;
  if (signal?.aborted) return Promise.reject(new AbortedError(signal.reason));
  const bound = instruments();
  const span = tracer().startSpan(policy.telemetry.callSpanName, policy.telemetry.spanOptions);
  const recording = span.isRecording();
  const timed = recording || bound.recording || localDurationsActive();
  const execution = new Execution(
    policy.telemetry,
    recording ? span : undefined,
    bound,
    timed,
    timed ? monotonicNow() : 0,
    scope,
  );
  const callContext = new CallContext(execution, 1, signalSourceOf(signal));
  const result = recording
    ? context.with(trace.setSpan(context.active(), span), () => policy[RUN](fn, callContext))
    : policy[RUN](fn, callContext);
  if (!timed) return result;
  return result.then(
    (value) => {
      execution.finish(undefined, false);
      return value;
    },
    (error: unknown) => {
      execution.finish(error, true);
      throw error;
    },
  );
}

/**
 * Runs `fn` under `policy` without a call span or call/attempt duration: for adapters whose
 * framework already traces and measures the unit of work (an inbound HTTP request has its server
 * span and `http.server.request.duration`). The policy's own counters and gauges (bulkhead load,
 * breaker states, rejections) still record; its span events are dropped with the span.
 */
export function executeQuietly<T>(
  policy: Policy,
  fn: PolicyFunction<T>,
  signal?: AbortSignal,
): Promise<T> {
  const effective = signal ?? currentDeadlineScope()?.signal;
  if (effective?.aborted) return Promise.reject(new AbortedError(effective.reason));
  return runQuietly(policy, fn, signalSourceOf(effective));
}

/**
 * {@link executeQuietly} with a signal read only if a policy needs it (a bulkhead queueing the
 * call, a breaker judging a failure): an inbound request creates its AbortController only then.
 * @internal
 */
export function runQuietly<T>(
  policy: Policy,
  fn: PolicyFunction<T>,
  source: SignalSource,
): Promise<T> {
  if (!(policy instanceof PolicyBase)) {
    throw new TypeError(`executeQuietly() needs a policy, got ${String(policy)}`);
  }
  const execution = new Execution(
    policy.telemetry,
    undefined,
    instruments(),
    false,
    0,
    currentDeadlineScope(),
  );
  return policy[RUN](fn, new CallContext(execution, 1, source));
}

/** A signal, told apart from {@link ExecuteOptions} (which has no `aborted`). */
function isSignal(value: unknown): value is AbortSignal {
  return typeof (value as AbortSignal | undefined)?.aborted === 'boolean';
}

/**
 * Calls `fn` with `ctx`, turning a synchronous throw into a rejection so every policy sees one kind
 * of failure.
 * @internal
 */
export function invoke<T>(fn: PolicyFunction<T>, ctx: CallContext): Promise<T> {
  try {
    return Promise.resolve(fn(ctx));
  } catch (error) {
    return Promise.reject(error);
  }
}
