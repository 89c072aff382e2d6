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
}

/** The function a policy runs. It may return a value or a promise. */
export type PolicyFunction<T> = (context: ExecuteContext) => PromiseLike<T> | T;

/** A signal that never aborts: the signal of calls made without one. @internal */
export const NEVER_ABORTED: AbortSignal = new AbortController().signal;

/** Where a context's signal comes from; the timeout policy supplies a lazily created one. */
export interface SignalSource {
  readonly signal: AbortSignal;
}

/** A caller-supplied signal, or one that never aborts. @internal */
export function signalSourceOf(signal: AbortSignal | undefined): SignalSource {
  return signal === undefined ? NO_SIGNAL : { signal };
}

const NO_SIGNAL: SignalSource = { signal: NEVER_ABORTED };

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

  /** A context for attempt `attempt` of the same call. */
  withAttempt(attempt: number): CallContext {
    return new CallContext(this.execution, attempt, this.signalSource);
  }

  /** A context whose signal comes from `source` (which follows this context's signal). */
  withSignal(source: SignalSource): CallContext {
    return new CallContext(this.execution, this.attempt, source);
  }
}
