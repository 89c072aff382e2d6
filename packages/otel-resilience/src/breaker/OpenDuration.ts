import { checkNonNegative, checkPositive } from '../validate.js';

/**
 * Lengthens the open period after each failed half-open probe: the n-th reopening in a row
 * (n ≥ 1) stays open for `min(maxMs, halfOpenAfterMs × factor^n)`. A dependency that keeps failing
 * its probes is then probed less and less often; the duration returns to `halfOpenAfterMs` as soon
 * as the circuit closes.
 */
export interface OpenDurationBackoff {
  /** Growth per failed probe (finite, ≥ 1). Default 2. */
  readonly factor?: number;
  /** Longest open period in milliseconds (≥ `halfOpenAfterMs`). */
  readonly maxMs: number;
}

/**
 * How long a circuit stays open, by the number of failed probes in a row ("step"). @internal
 */
export class OpenDuration {
  readonly baseMs: number;
  private readonly factor: number;
  private readonly maxMs: number;

  constructor(baseMs: number, backoff: OpenDurationBackoff | undefined) {
    this.baseMs = checkNonNegative('halfOpenAfterMs', baseMs);
    if (backoff === undefined) {
      this.factor = 1;
      this.maxMs = this.baseMs;
      return;
    }
    if (typeof backoff !== 'object' || backoff === null) {
      throw new TypeError(
        `openDurationBackoff must be an object { factor?, maxMs }, got ${String(backoff)}`,
      );
    }
    const factor = checkPositive('openDurationBackoff.factor', backoff.factor ?? 2);
    if (factor < 1) {
      throw new TypeError(`openDurationBackoff.factor must be a finite number >= 1, got ${factor}`);
    }
    const maxMs = checkNonNegative('openDurationBackoff.maxMs', backoff.maxMs);
    if (maxMs < this.baseMs) {
      throw new TypeError(
        `openDurationBackoff.maxMs must be >= halfOpenAfterMs (${this.baseMs}), got ${maxMs}`,
      );
    }
    this.factor = factor;
    this.maxMs = maxMs;
  }

  /** Milliseconds to stay open after `step` failed probes in a row (0 for an opening from closed). */
  forStep(step: number): number {
    if (step <= 0 || this.factor === 1) return this.baseMs;
    return Math.min(this.maxMs, this.baseMs * this.factor ** step);
  }
}
