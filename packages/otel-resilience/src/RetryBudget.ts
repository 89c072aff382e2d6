import { monotonicNow } from './clock.js';
import type { Disposable } from './Disposable.js';
import { ATTR_RESILIENCE_NAME } from './telemetry/attributes.js';
import { computedReading, instruments } from './telemetry/metrics.js';
import { checkName, checkNonNegative, checkPositive, checkRatio } from './validate.js';

/** Options of a {@link RetryBudget}. */
export interface RetryBudgetOptions {
  /** Reported as `resilience.name` on the `resilience.retry_budget.tokens` gauge. Default `'retry_budget'`. */
  readonly name?: string;
  /**
   * Share of calls that may be retried, in (0, 1]: each call deposits this fraction of a token and
   * each retry withdraws a whole one. Default 0.2 (retries add at most 20% load on top of the
   * reserve below).
   */
  readonly percentCanRetry?: number;
  /** Milliseconds a deposit (and a withdrawal) counts for, > 0. Default 10_000. */
  readonly ttlMs?: number;
  /**
   * Retries per second always allowed, whatever the traffic, so that a service with few calls can
   * still retry: a constant reserve of `minRetriesPerSecond × ttlMs / 1000` tokens. Default 10.
   */
  readonly minRetriesPerSecond?: number;
}

/** Tokens are kept in millionths so that fractional deposits add up exactly. */
const UNIT = 1_000_000;
/** The window is kept as this many slices; a deposit expires between 90% and 100% of the TTL. */
const SLICES = 10;

/**
 * A retry budget shared by many calls (Finagle's `RetryBudget`): every call deposits
 * `percentCanRetry` of a token, every retry withdraws one, and deposits and withdrawals count for
 * `ttlMs`. On top of that a reserve of `minRetriesPerSecond × ttlMs / 1000` tokens is always
 * there. A retry is allowed while at least one token is left, so during a full outage of a
 * dependency `N` calls within one TTL cause at most `N × percentCanRetry + reserve` retries —
 * retries can never multiply the load on a struggling dependency.
 *
 * The balance is computed from timestamps when it is read (a ring of time slices); no timer runs.
 * Share one budget per dependency, e.g. through {@link runWithDeadline}'s `retryBudget`, and call
 * {@link RetryBudget.dispose} when discarding it to unregister its gauge.
 */
export class RetryBudget implements Disposable {
  /** The budget's name (`resilience.name`). */
  readonly name: string;
  /** Fraction of a token each call deposits. */
  readonly percentCanRetry: number;
  /** Milliseconds a deposit counts for. */
  readonly ttlMs: number;
  /** Retries per second always allowed. */
  readonly minRetriesPerSecond: number;

  private readonly deposit: number;
  private readonly reserve: number;
  private readonly sliceMs: number;
  private readonly slices = new Float64Array(SLICES);
  /** Sum of the live slices, in millionths of a token. */
  private sum = 0;
  /** Index (time / sliceMs) of the newest slice written. */
  private currentSlice: number;
  private readonly reading: Disposable;

  constructor(options: RetryBudgetOptions = {}) {
    this.name = options.name === undefined ? 'retry_budget' : checkName('name', options.name);
    this.percentCanRetry =
      options.percentCanRetry === undefined
        ? 0.2
        : checkRatio('percentCanRetry', options.percentCanRetry);
    this.ttlMs = options.ttlMs === undefined ? 10_000 : checkPositive('ttlMs', options.ttlMs);
    this.minRetriesPerSecond =
      options.minRetriesPerSecond === undefined
        ? 10
        : checkNonNegative('minRetriesPerSecond', options.minRetriesPerSecond);
    this.deposit = Math.round(this.percentCanRetry * UNIT);
    this.reserve = Math.round(((this.minRetriesPerSecond * this.ttlMs) / 1000) * UNIT);
    this.sliceMs = this.ttlMs / SLICES;
    this.currentSlice = Math.floor(monotonicNow() / this.sliceMs);
    const budget = this;
    this.reading = computedReading('retryBudgetTokens', {
      attributes: Object.freeze({ [ATTR_RESILIENCE_NAME]: this.name }),
      get value() {
        return budget.balance;
      },
    });
    // Binds the observable instruments to an SDK registered already, so the gauge is exported
    // even before the first call through a policy.
    instruments();
  }

  /** Records one call (its first attempt), depositing `percentCanRetry` of a token. */
  recordCall(): void {
    this.add(this.deposit);
  }

  /** Takes one token for a retry; `false` (and nothing taken) when less than one is left. */
  tryWithdraw(): boolean {
    this.advance();
    if (this.sum + this.reserve < UNIT) return false;
    this.add(-UNIT);
    return true;
  }

  /** Whole retries the budget would allow right now (≥ 0). */
  get balance(): number {
    this.advance();
    const tokens = Math.floor((this.sum + this.reserve) / UNIT);
    return Math.max(0, tokens);
  }

  /** Unregisters the `resilience.retry_budget.tokens` reading. The budget itself keeps working. */
  dispose(): void {
    this.reading.dispose();
  }

  private add(amount: number): void {
    this.advance();
    this.slices[this.currentSlice % SLICES]! += amount;
    this.sum += amount;
  }

  /** Expires the slices that fell out of the window since the last operation. */
  private advance(): void {
    const slice = Math.floor(monotonicNow() / this.sliceMs);
    if (slice <= this.currentSlice) return;
    if (slice - this.currentSlice >= SLICES) {
      this.slices.fill(0);
      this.sum = 0;
    } else {
      for (let s = this.currentSlice + 1; s <= slice; s++) {
        const index = s % SLICES;
        this.sum -= this.slices[index]!;
        this.slices[index] = 0;
      }
    }
    this.currentSlice = slice;
  }
}
