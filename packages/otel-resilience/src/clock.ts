/**
 * Monotonic milliseconds used for every duration and deadline in the package. `performance.now()`
 * is immune to wall-clock jumps and is replaced by vitest's and sinon's fake timers, so every
 * timing rule can be tested without waiting.
 */
export const monotonicNow = (): number => performance.now();

/** Wall-clock milliseconds since the epoch, used only to read HTTP dates (Retry-After). */
export const wallClockNow = (): number => Date.now();
