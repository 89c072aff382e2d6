import type { Backoff } from './Backoff.js';
import { readDelayBounds } from './delayBounds.js';
import { applyJitter, checkJitter, type Jitter } from './jitter.js';

/** Options shared by the backoffs whose delay depends only on the retry number. */
export interface DeterministicBackoffOptions {
  /** Milliseconds of the base delay (the first delay before jitter), finite and ≥ 0. Default 100. */
  readonly initialDelayMs?: number;
  /** Upper bound of every delay in milliseconds, finite and ≥ 0. Default 30_000. */
  readonly maxDelayMs?: number;
  /** Randomization applied after capping, see {@link Jitter}. Default `'none'`. */
  readonly jitter?: Jitter;
}

/**
 * A backoff whose delay before retry `n` is a fixed function of `n`, capped at `maxDelayMs` and
 * then jittered. Subclasses only compute the uncapped curve.
 */
export abstract class DeterministicBackoff implements Backoff {
  /** Milliseconds of the base delay. */
  readonly initialDelayMs: number;
  /** Milliseconds no delay exceeds. */
  readonly maxDelayMs: number;
  /** Randomization applied after capping. */
  readonly jitter: Jitter;

  constructor(options: DeterministicBackoffOptions = {}) {
    ({ initialDelayMs: this.initialDelayMs, maxDelayMs: this.maxDelayMs } =
      readDelayBounds(options));
    this.jitter = options.jitter === undefined ? 'none' : checkJitter('jitter', options.jitter);
  }

  delayMs(retry: number, _previousDelayMs?: number, random: () => number = Math.random): number {
    // A zero base would turn an overflowing curve into 0 * Infinity = NaN.
    if (this.initialDelayMs === 0) return 0;
    const n = retry >= 1 ? Math.floor(retry) : 1;
    const raw = this.curve(n);
    // An overflow to Infinity yields the cap; a NaN from a faulty subclass yields 0.
    return applyJitter(raw >= 0 ? Math.min(raw, this.maxDelayMs) : 0, this.jitter, random);
  }

  /**
   * The uncapped delay before retry `retry` (an integer ≥ 1) for a positive `initialDelayMs`; may
   * overflow to Infinity, which is read as the cap.
   */
  protected abstract curve(retry: number): number;
}
