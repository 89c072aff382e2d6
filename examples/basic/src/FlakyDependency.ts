/** How the simulated dependency behaves right now. */
export interface DependencyMode {
  /** Share of calls that fail with a connection reset, 0..1. */
  readonly failureRate: number;
  /** Share of calls answered with 429 and a Retry-After of `retryAfterSeconds`, 0..1. */
  readonly rateLimitRate?: number;
  readonly retryAfterSeconds?: number;
  /** Milliseconds each call takes. */
  readonly latencyMs: number;
}

/**
 * A stand-in for a remote service whose behaviour can be changed while it runs. Failures come
 * from a seeded generator so every run of the demo tells the same story.
 */
export class FlakyDependency {
  calls = 0;
  private seed = 42;

  constructor(public mode: DependencyMode) {}

  private random(): number {
    // mulberry32
    this.seed = (this.seed + 0x6d2b79f5) | 0;
    let t = this.seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** One call: resolves with a stock level, or rejects like an HTTP client would. */
  async stockLevel(sku: string, signal: AbortSignal): Promise<number> {
    this.calls++;
    const roll = this.random();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, this.mode.latencyMs);
      signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          reject(signal.reason);
        },
        { once: true },
      );
    });
    if (roll < this.mode.failureRate) {
      throw Object.assign(new Error(`connect ECONNRESET for ${sku}`), { code: 'ECONNRESET' });
    }
    if (roll < this.mode.failureRate + (this.mode.rateLimitRate ?? 0)) {
      throw Object.assign(new Error('Too Many Requests'), {
        response: {
          status: 429,
          headers: { 'retry-after': String(this.mode.retryAfterSeconds ?? 1) },
        },
      });
    }
    return sku.length * 7;
  }
}
