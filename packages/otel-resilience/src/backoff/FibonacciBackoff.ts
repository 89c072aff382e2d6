import { DeterministicBackoff, type DeterministicBackoffOptions } from './DeterministicBackoff.js';

/**
 * `F(n) × initialDelayMs` before retry `n`, F being the Fibonacci numbers 1, 1, 2, 3, 5, 8, ...:
 * grows more gently than doubling (seed 003's "gradual increase").
 */
export class FibonacciBackoff extends DeterministicBackoff {
  protected curve(retry: number): number {
    const initial = this.initialDelayMs;
    let previous = 0;
    let current = 1;
    // Stops as soon as the cap is reached, so a huge retry number costs a few dozen iterations.
    for (let i = 1; i < retry && current * initial < this.maxDelayMs; i++) {
      const next = previous + current;
      previous = current;
      current = next;
    }
    return current * initial;
  }
}

/**
 * A delay following the Fibonacci sequence, capped at `maxDelayMs`.
 * @example fibonacciBackoff({ initialDelayMs: 100 }) // 100, 100, 200, 300, 500, 800, ... ms
 */
export function fibonacciBackoff(options?: DeterministicBackoffOptions): FibonacciBackoff {
  return new FibonacciBackoff(options);
}
