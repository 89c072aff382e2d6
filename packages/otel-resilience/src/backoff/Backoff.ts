/**
 * How long to wait before each retry. Backoffs are immutable values shared by every execution of
 * a policy: the delay is a pure function of the retry number and the previous delay, so no
 * per-call state is allocated or mutated.
 */
export interface Backoff {
  /**
   * Milliseconds to wait before retry `retry`.
   * @param retry The retry about to be made, starting at 1 (the wait before the 2nd attempt).
   * @param previousDelayMs The delay actually waited before the previous retry; 0 before the first.
   * @param random Uniform numbers in [0, 1] for jitter (values outside are clamped). Default
   *   `Math.random`.
   * @returns A finite delay in [0, the backoff's `maxDelayMs`].
   */
  delayMs(retry: number, previousDelayMs: number, random?: () => number): number;
}

export { type AggressiveBackoffOptions, aggressiveBackoff } from './AggressiveBackoff.js';
export {
  ConstantBackoff,
  type ConstantBackoffOptions,
  constantBackoff,
} from './ConstantBackoff.js';
export {
  DecorrelatedJitterBackoff,
  type DecorrelatedJitterBackoffOptions,
  decorrelatedJitterBackoff,
} from './DecorrelatedJitterBackoff.js';
export { DeterministicBackoff, type DeterministicBackoffOptions } from './DeterministicBackoff.js';
export {
  ExponentialBackoff,
  type ExponentialBackoffOptions,
  exponentialBackoff,
} from './ExponentialBackoff.js';
export { FibonacciBackoff, fibonacciBackoff } from './FibonacciBackoff.js';
export { JITTERS, type Jitter } from './jitter.js';
export { LinearBackoff, linearBackoff } from './LinearBackoff.js';
