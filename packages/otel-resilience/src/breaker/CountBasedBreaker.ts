import { checkInteger, checkRatio } from '../validate.js';
import type { Breaker, BreakerWindow } from './Breaker.js';

/** Options of {@link countBasedBreaker}. */
export interface CountBasedBreakerOptions {
  /**
   * Share of failed calls among the last `windowSize` calls at or above which the circuit opens,
   * in (0, 1]. Default 0.5.
   */
  readonly failureRateThreshold?: number;
  /** How many of the most recent calls the rate is computed over (integer ≥ 1). Default 100. */
  readonly windowSize?: number;
  /**
   * Calls the window must hold before the rate is considered, so that a handful of early
   * failures does not open the circuit (integer in [1, windowSize]). Default `windowSize`.
   */
  readonly minimumCalls?: number;
}

// Ring slots: nothing recorded yet, a success, a failure.
const EMPTY = 0;
const SUCCESS = 1;
const FAILURE = 2;

/**
 * Opens when at least `failureRateThreshold` of the last `windowSize` calls failed, once the window
 * holds `minimumCalls` calls. No clock: the window is a ring of the last outcomes.
 */
export class CountBasedBreaker implements Breaker {
  readonly needsTime = false;
  readonly slowCallDurationMs = undefined;
  /** See {@link CountBasedBreakerOptions.failureRateThreshold}. */
  readonly failureRateThreshold: number;
  /** See {@link CountBasedBreakerOptions.windowSize}. */
  readonly windowSize: number;
  /** See {@link CountBasedBreakerOptions.minimumCalls}. */
  readonly minimumCalls: number;

  constructor(options: CountBasedBreakerOptions = {}) {
    this.failureRateThreshold = checkRatio(
      'failureRateThreshold',
      options.failureRateThreshold ?? 0.5,
    );
    this.windowSize = checkInteger('windowSize', options.windowSize ?? 100, 1);
    this.minimumCalls = checkInteger('minimumCalls', options.minimumCalls ?? this.windowSize, 1);
    if (this.minimumCalls > this.windowSize) {
      throw new TypeError(
        `minimumCalls must be <= windowSize (${this.windowSize}), got ${this.minimumCalls}`,
      );
    }
  }

  create(): BreakerWindow {
    return new CountWindow(this);
  }
}

class CountWindow implements BreakerWindow {
  private readonly ring: Uint8Array;
  private next = 0;
  private calls = 0;
  private failures = 0;

  constructor(private readonly config: CountBasedBreaker) {
    this.ring = new Uint8Array(config.windowSize);
  }

  success(): boolean {
    this.push(SUCCESS);
    // A success lowers the rate, but may be the call that brings the window to minimumCalls.
    return this.shouldOpen();
  }

  failure(): boolean {
    this.push(FAILURE);
    return this.shouldOpen();
  }

  private shouldOpen(): boolean {
    return (
      this.calls >= this.config.minimumCalls &&
      this.failures / this.calls >= this.config.failureRateThreshold
    );
  }

  private push(outcome: number): void {
    const evicted = this.ring[this.next];
    if (evicted === EMPTY) this.calls++;
    else if (evicted === FAILURE) this.failures--;
    if (outcome === FAILURE) this.failures++;
    this.ring[this.next] = outcome;
    this.next = this.next + 1 === this.ring.length ? 0 : this.next + 1;
  }

  reset(): void {
    this.ring.fill(EMPTY);
    this.next = 0;
    this.calls = 0;
    this.failures = 0;
  }

  /** The recorded outcomes, oldest first: `s` for a success, `f` for a failure. */
  toJSON(): { outcomes: string } {
    let outcomes = '';
    const size = this.ring.length;
    for (let i = 0; i < size; i++) {
      const slot = this.ring[(this.next + i) % size];
      if (slot === SUCCESS) outcomes += 's';
      else if (slot === FAILURE) outcomes += 'f';
    }
    return { outcomes };
  }

  restore(state: unknown): boolean {
    const outcomes = (state as { outcomes?: unknown } | null | undefined)?.outcomes;
    if (typeof outcomes !== 'string' || !/^[sf]*$/.test(outcomes)) return false;
    this.reset();
    // A window restored into a smaller ring keeps the most recent outcomes.
    for (const outcome of outcomes.slice(-this.ring.length)) {
      this.push(outcome === 'f' ? FAILURE : SUCCESS);
    }
    return true;
  }
}

/**
 * Creates a {@link CountBasedBreaker}: the circuit opens when at least `failureRateThreshold` of
 * the last `windowSize` calls failed (once `minimumCalls` calls were seen).
 * @example
 * circuitBreaker({ breaker: countBasedBreaker({ failureRateThreshold: 0.5, windowSize: 20, minimumCalls: 10 }) });
 */
export function countBasedBreaker(options?: CountBasedBreakerOptions): CountBasedBreaker {
  return new CountBasedBreaker(options);
}
