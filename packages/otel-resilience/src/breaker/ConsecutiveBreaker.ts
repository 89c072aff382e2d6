import { checkInteger } from '../validate.js';
import type { Breaker, BreakerWindow } from './Breaker.js';

/**
 * Opens after `threshold` failures in a row; any success starts the count again. The cheapest
 * strategy: no clock, no window, one number per breaker.
 */
export class ConsecutiveBreaker implements Breaker {
  readonly needsTime = false;
  readonly slowCallDurationMs = undefined;

  constructor(
    /** Consecutive failures that open the circuit (integer ≥ 1). Default 5 (seed 000). */
    readonly threshold: number = 5,
  ) {
    checkInteger('threshold', threshold, 1);
  }

  create(): BreakerWindow {
    return new ConsecutiveWindow(this.threshold);
  }
}

class ConsecutiveWindow implements BreakerWindow {
  private failures = 0;

  constructor(private readonly threshold: number) {}

  success(): boolean {
    this.failures = 0;
    return false;
  }

  failure(): boolean {
    return ++this.failures >= this.threshold;
  }

  reset(): void {
    this.failures = 0;
  }

  toJSON(): { failures: number } {
    return { failures: this.failures };
  }

  restore(state: unknown): boolean {
    const failures = (state as { failures?: unknown } | null | undefined)?.failures;
    if (typeof failures !== 'number' || !Number.isInteger(failures) || failures < 0) return false;
    // A count at or above a (possibly lowered) threshold would open on the next failure anyway.
    this.failures = Math.min(failures, this.threshold - 1);
    return true;
  }
}

/**
 * Creates a {@link ConsecutiveBreaker}: the circuit opens after `threshold` consecutive failures.
 * @param threshold Consecutive failures that open the circuit (integer ≥ 1). Default 5.
 * @example
 * circuitBreaker({ breaker: consecutiveBreaker(5) });
 */
export function consecutiveBreaker(threshold = 5): ConsecutiveBreaker {
  return new ConsecutiveBreaker(threshold);
}
