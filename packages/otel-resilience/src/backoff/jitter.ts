/**
 * Randomization applied on top of a deterministic delay `d` so that clients failing together do
 * not retry together (AWS "Exponential Backoff and Jitter"):
 * - `none`: exactly `d`;
 * - `full`: uniform in [0, d] — spreads load best, but a delay may be close to 0;
 * - `equal`: uniform in [d/2, d] — keeps at least half of the backoff's growth.
 */
export type Jitter = 'none' | 'full' | 'equal';

/** Every {@link Jitter} mode. */
export const JITTERS: readonly Jitter[] = Object.freeze(['none', 'full', 'equal']);

/** A random number from `random`, clamped into [0, 1] so a bad source cannot escape the cap. */
export function unitRandom(random: () => number): number {
  const r = random();
  return r >= 0 ? Math.min(r, 1) : 0;
}

/** `delayMs` (already within [0, cap]) with `jitter` applied; stays within [0, delayMs]. */
export function applyJitter(delayMs: number, jitter: Jitter, random: () => number): number {
  if (jitter === 'none' || delayMs === 0) return delayMs;
  const r = unitRandom(random);
  // Multiplying by a factor ≤ 1 can never round above delayMs, even for subnormal delays.
  return delayMs * (jitter === 'full' ? r : 0.5 + 0.5 * r);
}

/** Validates a jitter option. @internal */
export function checkJitter(option: string, value: unknown): Jitter {
  if (value !== 'none' && value !== 'full' && value !== 'equal') {
    const shown = typeof value === 'string' ? JSON.stringify(value) : String(value);
    throw new TypeError(`${option} must be "none", "full" or "equal", got ${shown}`);
  }
  return value;
}
