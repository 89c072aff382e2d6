import type { Disposable } from '../Disposable.js';
import type { CircuitBreakerSnapshot } from './CircuitBreakerSnapshot.js';

/**
 * Where circuit breakers publish their state so that other breakers of the same name — in this
 * process or, with a shared backend such as Redis, in other instances — follow it.
 *
 * A breaker never waits for its store: it keeps its state in memory and decides every call
 * synchronously. It calls {@link save} after each of its own state changes (a returned promise
 * that rejects is reported through the OpenTelemetry diag logger, never to the caller),
 * {@link load} once when it is created, and listens through {@link subscribe} for changes made
 * elsewhere. Snapshots are ordered by `changedAt`: an older one never overrides a newer state.
 *
 * Implementations receive and must hand back plain JSON-compatible objects; a breaker validates
 * what it gets and ignores (with a diag warning) anything malformed.
 */
export interface CircuitBreakerStateStore {
  /**
   * The last snapshot saved under `name`, if any. A promise is fine: the breaker starts closed
   * (or from `initialState`) and adopts the loaded snapshot when it arrives, if it is newer.
   */
  load(
    name: string,
  ): CircuitBreakerSnapshot | undefined | PromiseLike<CircuitBreakerSnapshot | undefined>;
  /** Stores `snapshot` as the state of `name` and tells the other subscribers of `name`. */
  save(name: string, snapshot: CircuitBreakerSnapshot): void | PromiseLike<void>;
  /**
   * Calls `listener` with every snapshot saved under `name` (a store may include the caller's
   * own saves; a breaker ignores those). Optional: without it breakers only see each other's
   * state when they are created.
   */
  subscribe?(name: string, listener: (snapshot: CircuitBreakerSnapshot) => void): Disposable;
}
