/**
 * A breaker strategy: decides, from the outcomes of calls made while the circuit is closed, when
 * it should open. A strategy is an immutable description; each circuit breaker asks it for a
 * {@link BreakerWindow} of its own, so one strategy value can configure many breakers (one per
 * host, say) without them sharing counts.
 */
export interface Breaker {
  /**
   * Whether {@link BreakerWindow.success} and {@link BreakerWindow.failure} need `nowMs`. When
   * false the circuit breaker never reads the clock on the closed path and passes 0.
   */
  readonly needsTime: boolean;
  /**
   * Calls slower than this (milliseconds) are slow: the window receives their duration, and a
   * half-open trial call this slow counts as a failed probe. `undefined` (the default of every
   * strategy without slow-call detection) means durations are not measured and 0 is passed.
   */
  readonly slowCallDurationMs: number | undefined;
  /** A new, empty window for one circuit breaker. */
  create(): BreakerWindow;
}

/**
 * The per-breaker record of recent outcomes a {@link Breaker} decides from. Fed only with calls
 * that started and finished while the circuit was closed; emptied whenever the circuit closes.
 */
export interface BreakerWindow {
  /**
   * Records a successful call (or an error that does not count as a failure). Returns true when
   * the circuit should open: rates are checked after every call, and a success may be the one that
   * brings the window to its minimum number of calls, or a slow one.
   * @param durationMs How long the call took, in milliseconds; 0 unless the strategy has a
   *   `slowCallDurationMs`.
   * @param nowMs Monotonic milliseconds when the call ended; 0 unless the strategy `needsTime`.
   */
  success(durationMs: number, nowMs: number): boolean;
  /** Records a failed call; returns true when the circuit should open. Arguments as for `success`. */
  failure(durationMs: number, nowMs: number): boolean;
  /** Forgets every recorded outcome. */
  reset(): void;
  /**
   * The recorded outcomes as a JSON-serialisable value for a snapshot, or `undefined` when the
   * strategy does not persist them (they are then rebuilt from new calls after a restore).
   */
  toJSON(): unknown;
  /** Restores what {@link toJSON} returned; returns false (and changes nothing) when `state` does not fit. */
  restore(state: unknown): boolean;
}

export * from './ConsecutiveBreaker.js';
export * from './CountBasedBreaker.js';
export * from './TimeBasedBreaker.js';
