import type { Execution } from './telemetry/Execution.js';

/** What the wrapped function receives on every attempt. */
export interface ExecuteContext {
  /**
   * Aborted when the caller's signal aborts or a timeout policy's deadline passes; pass it on to
   * `fetch`, database drivers and anything else that can stop early. Created lazily: a function
   * that never reads it costs no AbortController.
   */
  readonly signal: AbortSignal;
  /** The attempt being made, starting at 1; a retry policy increments it. */
  readonly attempt: number;
  /**
   * Calls `listener` with the abort reason when {@link signal} aborts — at once if it already has
   * — and returns a function that removes the listener. Unlike listening on `signal`, it does not
   * create the signal's AbortController (a few microseconds each): for handing cancellation to a
   * library that takes a callback or a signal-like object. Call the returned function when the
   * work settles.
   */
  onAbort(listener: (reason: unknown) => void): () => void;
}

/** The function a policy runs. It may return a value or a promise. */
export type PolicyFunction<T> = (context: ExecuteContext) => PromiseLike<T> | T;

/** A signal that never aborts: the signal of calls made without one. @internal */
export const NEVER_ABORTED: AbortSignal = new AbortController().signal;

/** Where a context's signal comes from; the timeout policy supplies a lazily created one. */
export interface SignalSource {
  readonly signal: AbortSignal;
  /** {@link ExecuteContext.onAbort} without creating `signal`; else a listener on `signal` is used. */
  onAbort?(listener: (reason: unknown) => void): () => void;
}

/** A caller-supplied signal, or one that never aborts. @internal */
export function signalSourceOf(signal: AbortSignal | undefined): SignalSource {
  return signal === undefined ? NO_SIGNAL : { signal };
}

/** A function that does nothing: a listener remover with nothing to remove. @internal */
export const doNothing = (): void => {};

const NO_SIGNAL: SignalSource = { signal: NEVER_ABORTED, onAbort: () => doNothing };

/** {@link ExecuteContext.onAbort} through a listener on an existing signal. @internal */
export function onSignalAbort(
  signal: AbortSignal,
  listener: (reason: unknown) => void,
): () => void {
  if (signal === NEVER_ABORTED) return doNothing;
  if (signal.aborted) {
    listener(signal.reason);
    return doNothing;
  }
  const onAbort = (): void => listener(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}

/** The context of a single attempt outside any policy (`safeExecute`, a batch without one). @internal */
export function singleAttemptContext(signal: AbortSignal | undefined): ExecuteContext {
  const effective = signal ?? NEVER_ABORTED;
  return {
    signal: effective,
    attempt: 1,
    onAbort: (listener) => onSignalAbort(effective, listener),
  };
}

/**
 * The context passed between policies of one call. Policies derive new contexts (a new attempt
 * number, a deadline-bound signal) without touching the caller's.
 * @internal
 */
export class CallContext implements ExecuteContext {
  constructor(
    /** The logical call this context belongs to (telemetry, span). */
    readonly execution: Execution,
    readonly attempt: number,
    private readonly signalSource: SignalSource,
  ) {}

  get signal(): AbortSignal {
    return this.signalSource.signal;
  }

  onAbort(listener: (reason: unknown) => void): () => void {
    const source = this.signalSource;
    return source.onAbort === undefined
      ? onSignalAbort(source.signal, listener)
      : source.onAbort(listener);
  }

  /** A context for attempt `attempt` of the same call. */
  withAttempt(attempt: number): CallContext {
    return new CallContext(this.execution, attempt, this.signalSource);
  }

  /** A context whose signal comes from `source` (which follows this context's signal). */
  withSignal(source: SignalSource): CallContext {
    return new CallContext(this.execution, this.attempt, source);
  }
}
