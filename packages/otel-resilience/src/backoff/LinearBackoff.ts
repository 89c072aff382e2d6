import { DeterministicBackoff, type DeterministicBackoffOptions } from './DeterministicBackoff.js';

/** `n × initialDelayMs` before retry `n`: 100, 200, 300, ... (the matrix's choice for timeouts). */
export class LinearBackoff extends DeterministicBackoff {
  protected curve(retry: number): number {
    return retry * this.initialDelayMs;
  }
}

/**
 * A delay growing by `initialDelayMs` per retry, capped at `maxDelayMs`.
 * @example linearBackoff({ initialDelayMs: 200 }) // 200, 400, 600, ... ms
 */
export function linearBackoff(options?: DeterministicBackoffOptions): LinearBackoff {
  return new LinearBackoff(options);
}
