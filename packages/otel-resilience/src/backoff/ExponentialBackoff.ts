import { DeterministicBackoff, type DeterministicBackoffOptions } from './DeterministicBackoff.js';

/** Options of {@link exponentialBackoff}. */
export interface ExponentialBackoffOptions extends DeterministicBackoffOptions {
  /** Growth per retry, finite and ≥ 1. Default 2. */
  readonly factor?: number;
}

/** `initialDelayMs × factor^(n-1)` before retry `n`: 100, 200, 400, ... with the defaults. */
export class ExponentialBackoff extends DeterministicBackoff {
  /** Growth per retry. */
  readonly factor: number;

  constructor(options: ExponentialBackoffOptions = {}) {
    super(options);
    const factor: unknown = options.factor ?? 2;
    if (typeof factor !== 'number' || !Number.isFinite(factor) || factor < 1) {
      const shown = typeof factor === 'string' ? JSON.stringify(factor) : String(factor);
      throw new TypeError(`factor must be a finite number >= 1, got ${shown}`);
    }
    this.factor = factor;
  }

  protected curve(retry: number): number {
    return this.initialDelayMs * this.factor ** (retry - 1);
  }
}

/**
 * A delay multiplied by `factor` on every retry, capped at `maxDelayMs`.
 * @example exponentialBackoff({ initialDelayMs: 100, maxDelayMs: 10_000, jitter: 'full' })
 */
export function exponentialBackoff(options?: ExponentialBackoffOptions): ExponentialBackoff {
  return new ExponentialBackoff(options);
}
