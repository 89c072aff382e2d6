import { CIRCUIT_STATES, type CircuitState } from './CircuitState.js';

/**
 * A circuit breaker's state as plain JSON: what {@link CircuitBreakerPolicy.toSnapshot} returns,
 * what a {@link CircuitBreakerStateStore} keeps, and what `initialState` restores. Times are
 * wall-clock epoch milliseconds so that a snapshot keeps its meaning in another process or after a
 * restart.
 */
export interface CircuitBreakerSnapshot {
  /** The state. A restored `half_open` becomes `open` with its open period over: trial calls belong to the process that ran them. */
  readonly state: CircuitState;
  /**
   * Epoch milliseconds of the last state change. Orders snapshots of one breaker written by
   * several instances: an older snapshot never overrides a newer state.
   */
  readonly changedAt: number;
  /** Epoch milliseconds when the circuit last opened; present for `open` and `half_open`. */
  readonly openedAt?: number;
  /** Milliseconds the current open period lasts; present for `open` and `half_open`. */
  readonly openDurationMs?: number;
  /** Failed half-open probes in a row (the open-duration backoff step); 0 once closed. */
  readonly openStep: number;
  /** The breaker strategy's recorded outcomes (see `BreakerWindow.toJSON`), when it keeps them. */
  readonly window?: unknown;
}

const isTime = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0;

/**
 * Checks that `value` is a {@link CircuitBreakerSnapshot} (from JSON, a store, a user) and returns
 * a normalised copy; throws a `TypeError` naming `option` otherwise.
 * @internal
 */
export function parseSnapshot(option: string, value: unknown): CircuitBreakerSnapshot {
  const fail = (why: string): never => {
    throw new TypeError(`${option} is not a circuit breaker snapshot: ${why}`);
  };
  if (typeof value !== 'object' || value === null) return fail(`got ${String(value)}`);
  const raw = value as Record<string, unknown>;
  const state = raw.state as CircuitState;
  if (!CIRCUIT_STATES.includes(state)) return fail(`state ${JSON.stringify(raw.state)}`);
  if (!isTime(raw.changedAt)) return fail(`changedAt ${String(raw.changedAt)}`);
  const openStep = raw.openStep ?? 0;
  if (typeof openStep !== 'number' || !Number.isInteger(openStep) || openStep < 0) {
    return fail(`openStep ${String(openStep)}`);
  }
  const snapshot: {
    -readonly [K in keyof CircuitBreakerSnapshot]: CircuitBreakerSnapshot[K];
  } = { state, changedAt: raw.changedAt, openStep };
  if (state === 'open' || state === 'half_open') {
    if (!isTime(raw.openedAt)) return fail(`openedAt ${String(raw.openedAt)}`);
    snapshot.openedAt = raw.openedAt;
    if (raw.openDurationMs !== undefined) {
      if (!isTime(raw.openDurationMs)) return fail(`openDurationMs ${String(raw.openDurationMs)}`);
      snapshot.openDurationMs = raw.openDurationMs;
    }
  }
  if (raw.window !== undefined) snapshot.window = raw.window;
  return snapshot;
}
