import { hasBrand } from './brand.js';

const brand = Symbol.for('otel-resilience.AbortedError');

/**
 * Thrown when the caller's AbortSignal aborts before or while a policy waits (a retry backoff, a
 * bulkhead queue). The signal's reason is kept as `cause`.
 */
export class AbortedError extends Error {
  /** @internal */
  readonly [brand] = true;
  override readonly name: string = 'AbortedError';

  constructor(reason?: unknown) {
    super('The operation was aborted by its caller', { cause: reason });
  }
}

/** True for an {@link AbortedError} from any copy of this package. */
export const isAbortedError = (error: unknown): error is AbortedError => hasBrand(error, brand);
