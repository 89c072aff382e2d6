import { hasBrand } from './brand.js';

const brand = Symbol.for('otel-resilience.BulkheadRejectedError');

/** Thrown when a bulkhead's execution slots and queue are both full. */
export class BulkheadRejectedError extends Error {
  /** @internal */
  readonly [brand] = true;
  override readonly name: string = 'BulkheadRejectedError';

  constructor(
    /** Name of the bulkhead. */
    readonly bulkheadName: string,
    /** Executions running when the call was refused. */
    readonly active: number,
    /** Executions queued when the call was refused. */
    readonly queued: number,
  ) {
    super(`Bulkhead "${bulkheadName}" is full (${active} running, ${queued} queued)`);
  }
}

/** True for a {@link BulkheadRejectedError} from any copy of this package. */
export const isBulkheadRejectedError = (error: unknown): error is BulkheadRejectedError =>
  hasBrand(error, brand);
