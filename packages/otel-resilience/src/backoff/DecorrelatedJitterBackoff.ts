import type { Backoff } from './Backoff.js';
import { readDelayBounds } from './delayBounds.js';
import { unitRandom } from './jitter.js';

/** Options of {@link decorrelatedJitterBackoff}. */
export interface DecorrelatedJitterBackoffOptions {
  /** Milliseconds of the smallest delay, finite and ≥ 0. Default 100. */
  readonly initialDelayMs?: number;
  /** Upper bound of every delay in milliseconds, finite and ≥ 0. Default 30_000. */
  readonly maxDelayMs?: number;
}

/**
 * AWS's "decorrelated jitter": `min(maxDelayMs, random between initialDelayMs and 3 × previous
 * delay)`. Each delay depends on the previous one rather than on the retry number, so clients
 * that failed together drift apart quickly while the delays still grow.
 */
export class DecorrelatedJitterBackoff implements Backoff {
  /** Milliseconds of the smallest delay. */
  readonly initialDelayMs: number;
  /** Milliseconds no delay exceeds. */
  readonly maxDelayMs: number;

  constructor(options: DecorrelatedJitterBackoffOptions = {}) {
    ({ initialDelayMs: this.initialDelayMs, maxDelayMs: this.maxDelayMs } =
      readDelayBounds(options));
  }

  delayMs(_retry: number, previousDelayMs: number, random: () => number = Math.random): number {
    const base = this.initialDelayMs;
    const cap = this.maxDelayMs;
    // Clamping the previous delay keeps 3 × previous finite whatever the caller passes (NaN too).
    const previous = Math.min(cap, Math.max(base, previousDelayMs || 0));
    return Math.min(cap, base + unitRandom(random) * (previous * 3 - base));
  }
}

/**
 * Creates a {@link DecorrelatedJitterBackoff}.
 * @example decorrelatedJitterBackoff({ initialDelayMs: 100, maxDelayMs: 20_000 })
 */
export function decorrelatedJitterBackoff(
  options?: DecorrelatedJitterBackoffOptions,
): DecorrelatedJitterBackoff {
  return new DecorrelatedJitterBackoff(options);
}
