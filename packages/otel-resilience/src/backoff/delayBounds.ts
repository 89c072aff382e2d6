import { checkNonNegative } from '../validate.js';

/** The two bounds every backoff takes, validated, with their defaults applied. @internal */
export interface DelayBounds {
  /** Milliseconds of the base (smallest) delay. Default 100. */
  readonly initialDelayMs: number;
  /** Milliseconds no delay exceeds. Default 30_000. */
  readonly maxDelayMs: number;
}

/** Reads `initialDelayMs` and `maxDelayMs` from backoff options. @internal */
export function readDelayBounds(options: Partial<DelayBounds>): DelayBounds {
  return {
    initialDelayMs:
      options.initialDelayMs === undefined
        ? 100
        : checkNonNegative('initialDelayMs', options.initialDelayMs),
    maxDelayMs:
      options.maxDelayMs === undefined
        ? 30_000
        : checkNonNegative('maxDelayMs', options.maxDelayMs),
  };
}
