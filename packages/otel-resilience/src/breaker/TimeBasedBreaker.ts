import { checkInteger, checkPositive, checkRatio } from '../validate.js';
import type { Breaker, BreakerWindow } from './Breaker.js';

/** Options of {@link timeBasedBreaker}. */
export interface TimeBasedBreakerOptions {
  /**
   * Share of failed calls in the window at or above which the circuit opens, in (0, 1].
   * Default 0.5.
   */
  readonly failureRateThreshold?: number;
  /**
   * Share of slow calls (see `slowCallDurationMs`) in the window at or above which the circuit
   * opens, in (0, 1]. Default 1 (every call in the window slow). Ignored without
   * `slowCallDurationMs`.
   */
  readonly slowCallRateThreshold?: number;
  /**
   * Milliseconds above which a call is slow (> 0). Default: none — slow calls are not tracked and
   * call durations are not measured.
   */
  readonly slowCallDurationMs?: number;
  /** Length of the sliding window in milliseconds (> 0). Default 10_000. */
  readonly windowMs?: number;
  /**
   * Number of buckets the window is divided into (integer ≥ 1): the window slides one bucket
   * (`windowMs / buckets`) at a time. Default 10.
   */
  readonly buckets?: number;
  /**
   * Calls the window must hold before any rate is considered, so that low traffic does not open
   * the circuit on a few failures (integer ≥ 1). Default 20.
   */
  readonly minimumThroughput?: number;
}

/**
 * Opens when, over the last `windowMs`, at least `minimumThroughput` calls were made and either
 * the failure rate reached `failureRateThreshold` or the slow-call rate reached
 * `slowCallRateThreshold`. The window is a ring of time buckets brought up to date from the call's
 * own timestamp: no timer runs, and an idle breaker costs nothing.
 */
export class TimeBasedBreaker implements Breaker {
  readonly needsTime = true;
  /** See {@link TimeBasedBreakerOptions.failureRateThreshold}. */
  readonly failureRateThreshold: number;
  /** See {@link TimeBasedBreakerOptions.slowCallRateThreshold}. */
  readonly slowCallRateThreshold: number;
  /** See {@link TimeBasedBreakerOptions.slowCallDurationMs}. */
  readonly slowCallDurationMs: number | undefined;
  /** See {@link TimeBasedBreakerOptions.windowMs}. */
  readonly windowMs: number;
  /** See {@link TimeBasedBreakerOptions.buckets}. */
  readonly buckets: number;
  /** See {@link TimeBasedBreakerOptions.minimumThroughput}. */
  readonly minimumThroughput: number;

  constructor(options: TimeBasedBreakerOptions = {}) {
    this.failureRateThreshold = checkRatio(
      'failureRateThreshold',
      options.failureRateThreshold ?? 0.5,
    );
    this.slowCallRateThreshold = checkRatio(
      'slowCallRateThreshold',
      options.slowCallRateThreshold ?? 1,
    );
    this.slowCallDurationMs =
      options.slowCallDurationMs === undefined
        ? undefined
        : checkPositive('slowCallDurationMs', options.slowCallDurationMs);
    this.windowMs = checkPositive('windowMs', options.windowMs ?? 10_000);
    this.buckets = checkInteger('buckets', options.buckets ?? 10, 1);
    this.minimumThroughput = checkInteger('minimumThroughput', options.minimumThroughput ?? 20, 1);
  }

  create(): BreakerWindow {
    return new TimeWindow(this);
  }
}

class TimeWindow implements BreakerWindow {
  private readonly bucketMs: number;
  private readonly slowMs: number;
  /** Absolute bucket number (`floor(now / bucketMs)`) each slot holds. */
  private readonly ids: Float64Array;
  private readonly callCounts: Uint32Array;
  private readonly failureCounts: Uint32Array;
  private readonly slowCounts: Uint32Array;
  private latest = Number.NEGATIVE_INFINITY;
  private calls = 0;
  private failures = 0;
  private slow = 0;

  constructor(private readonly config: TimeBasedBreaker) {
    const n = config.buckets;
    this.bucketMs = config.windowMs / n;
    this.slowMs = config.slowCallDurationMs ?? Number.POSITIVE_INFINITY;
    this.ids = new Float64Array(n).fill(Number.NEGATIVE_INFINITY);
    this.callCounts = new Uint32Array(n);
    this.failureCounts = new Uint32Array(n);
    this.slowCounts = new Uint32Array(n);
  }

  success(durationMs: number, nowMs: number): boolean {
    this.record(nowMs, false, durationMs > this.slowMs);
    // Even a fast success can open the circuit: it may bring the window to minimumThroughput, or
    // arrive after older, healthier buckets slid out.
    return this.shouldOpen();
  }

  failure(durationMs: number, nowMs: number): boolean {
    this.record(nowMs, true, durationMs > this.slowMs);
    return this.shouldOpen();
  }

  private shouldOpen(): boolean {
    const { calls, config } = this;
    if (calls < config.minimumThroughput) return false;
    return (
      this.failures / calls >= config.failureRateThreshold ||
      this.slow / calls >= config.slowCallRateThreshold
    );
  }

  private record(nowMs: number, failed: boolean, isSlow: boolean): void {
    const id = Math.floor(nowMs / this.bucketMs);
    const n = this.ids.length;
    const slot = id % n;
    if (id > this.latest) {
      // Expire every bucket the window slid past since the last call: at most one pass over the
      // ring, however long the breaker was idle.
      if (id - this.latest >= n) this.clear();
      else for (let past = this.latest + 1; past <= id; past++) this.expire(past % n);
      this.latest = id;
      this.ids[slot] = id;
    } else if (this.ids[slot] !== id) {
      // Older than the whole window (the clock never goes back, but a restored window may lag).
      return;
    }
    this.callCounts[slot]!++;
    this.calls++;
    if (failed) {
      this.failureCounts[slot]!++;
      this.failures++;
    }
    if (isSlow) {
      this.slowCounts[slot]!++;
      this.slow++;
    }
  }

  private expire(slot: number): void {
    this.calls -= this.callCounts[slot]!;
    this.failures -= this.failureCounts[slot]!;
    this.slow -= this.slowCounts[slot]!;
    this.callCounts[slot] = 0;
    this.failureCounts[slot] = 0;
    this.slowCounts[slot] = 0;
    this.ids[slot] = Number.NEGATIVE_INFINITY;
  }

  private clear(): void {
    this.ids.fill(Number.NEGATIVE_INFINITY);
    this.callCounts.fill(0);
    this.failureCounts.fill(0);
    this.slowCounts.fill(0);
    this.calls = 0;
    this.failures = 0;
    this.slow = 0;
  }

  reset(): void {
    this.clear();
    this.latest = Number.NEGATIVE_INFINITY;
  }

  /**
   * Not persisted: bucket times are monotonic-clock readings that mean nothing in another process.
   * A restored breaker rebuilds its window from new calls within `windowMs`.
   */
  toJSON(): undefined {
    return undefined;
  }

  restore(): boolean {
    return false;
  }
}

/**
 * Creates a {@link TimeBasedBreaker}: the circuit opens on the failure rate or the slow-call rate
 * over a sliding time window.
 * @example
 * circuitBreaker({
 *   breaker: timeBasedBreaker({ windowMs: 30_000, failureRateThreshold: 0.5, slowCallDurationMs: 2_000, slowCallRateThreshold: 0.8, minimumThroughput: 10 }),
 * });
 */
export function timeBasedBreaker(options?: TimeBasedBreakerOptions): TimeBasedBreaker {
  return new TimeBasedBreaker(options);
}
