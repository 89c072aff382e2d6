import { hasBrand } from './brand.js';

const brand = Symbol.for('otel-resilience.BrokenCircuitError');

/** State in which a circuit breaker refused a call. */
export type RejectingState = 'open' | 'half_open' | 'isolated';

/**
 * Thrown instead of calling the function when a circuit breaker is open, isolated, or half-open
 * with all of its trial slots taken.
 */
export class BrokenCircuitError extends Error {
  /** @internal */
  readonly [brand] = true;
  override readonly name: string = 'BrokenCircuitError';

  constructor(
    /** Name of the breaker that refused the call. */
    readonly breakerName: string,
    /** The breaker's state when it refused. */
    readonly state: RejectingState,
    /**
     * Milliseconds until the breaker lets a trial call through, when known (absent while isolated
     * or while half-open trials are running). Adapters turn it into a `Retry-After` header.
     */
    readonly retryAfterMs?: number,
  ) {
    super(
      `Circuit breaker "${breakerName}" is ${state.replace('_', '-')}; the call was not attempted`,
    );
  }
}

/** True for a {@link BrokenCircuitError} from any copy of this package. */
export const isBrokenCircuitError = (error: unknown): error is BrokenCircuitError =>
  hasBrand(error, brand);
