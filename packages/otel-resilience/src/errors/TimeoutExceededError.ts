import { hasBrand } from './brand.js';

const brand = Symbol.for('otel-resilience.TimeoutExceededError');

/** Why a deadline was hit: the timeout policy's own limit, or the caller's deadline context. */
export type TimeoutSource = 'timeout' | 'deadline';

/** Thrown (or used as the abort reason) when a timeout policy's deadline passes. */
export class TimeoutExceededError extends Error {
  /** @internal */
  readonly [brand] = true;
  override readonly name: string = 'TimeoutExceededError';

  constructor(
    /** The limit that was hit, in milliseconds. */
    readonly timeoutMs: number,
    /** Whether the policy's own duration or the caller's (shorter) deadline was the limit. */
    readonly source: TimeoutSource = 'timeout',
  ) {
    super(
      source === 'deadline'
        ? `The caller's deadline passed (${Math.round(timeoutMs)} ms were left)`
        : `Operation timed out after ${timeoutMs} ms`,
    );
  }
}

/** True for a {@link TimeoutExceededError} from any copy of this package. */
export const isTimeoutExceededError = (error: unknown): error is TimeoutExceededError =>
  hasBrand(error, brand);
