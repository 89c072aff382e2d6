import { checkNonNegative } from '../validate.js';
import { DeterministicBackoff } from './DeterministicBackoff.js';
import type { Jitter } from './jitter.js';

/** Options of {@link constantBackoff}. */
export interface ConstantBackoffOptions {
  /** Randomization of each delay, see {@link Jitter}. Default `'none'`. */
  readonly jitter?: Jitter;
}

/** The same delay before every retry (seed 001's "fixed delay"). */
export class ConstantBackoff extends DeterministicBackoff {
  constructor(delayMs: number, options: ConstantBackoffOptions = {}) {
    const delay = checkNonNegative('delayMs', delayMs);
    super({ initialDelayMs: delay, maxDelayMs: delay, jitter: options.jitter });
  }

  protected curve(): number {
    return this.initialDelayMs;
  }
}

/**
 * Waits `delayMs` before every retry.
 * @param delayMs Milliseconds between attempts, finite and ≥ 0.
 * @example retry({ backoff: constantBackoff(250) })
 */
export function constantBackoff(
  delayMs: number,
  options?: ConstantBackoffOptions,
): ConstantBackoff {
  return new ConstantBackoff(delayMs, options);
}
