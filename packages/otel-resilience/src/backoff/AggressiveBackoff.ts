import type { DeterministicBackoffOptions } from './DeterministicBackoff.js';
import { ExponentialBackoff } from './ExponentialBackoff.js';

/** Options of {@link aggressiveBackoff} (the factor is fixed at 3). */
export type AggressiveBackoffOptions = DeterministicBackoffOptions;

/**
 * `initialDelayMs × 3^(n-1)` before retry `n` (seed 003's "aggressive" 3^n strategy for rate
 * limits): backs off faster than the default exponential so a throttled client gets out of the
 * way. A retry policy still never retries earlier than a Retry-After hint.
 * @example aggressiveBackoff({ initialDelayMs: 1_000 }) // 1 s, 3 s, 9 s, 27 s, 30 s (cap), ...
 */
export function aggressiveBackoff(options: AggressiveBackoffOptions = {}): ExponentialBackoff {
  return new ExponentialBackoff({ ...options, factor: 3 });
}
