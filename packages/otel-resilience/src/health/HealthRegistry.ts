import type { BulkheadPolicy } from '../BulkheadPolicy.js';
import type { CircuitBreakerPolicy } from '../CircuitBreakerPolicy.js';
import { errorTypeOf } from '../classification/errorType.js';
import { monotonicNow } from '../clock.js';
import type { Disposable } from '../Disposable.js';
import { executeQuietly } from '../Policy.js';
import type { RetryBudget } from '../RetryBudget.js';
import { type TimeoutPolicy, timeout } from '../TimeoutPolicy.js';
import { checkFunction, checkName, checkPositive } from '../validate.js';

/** Overall health, from best to worst (the levels of seed 003's `overall_health`). */
export const HEALTH_STATUSES = ['healthy', 'degraded', 'unhealthy', 'critical'] as const;
/** One of {@link HEALTH_STATUSES}. */
export type HealthStatus = (typeof HEALTH_STATUSES)[number];

/**
 * What a check returns: `true`/`false` (healthy/unhealthy), a status, or a status with details
 * (small, non-secret values: they are served on the status endpoint).
 */
export type HealthCheckResult =
  | boolean
  | HealthStatus
  | {
      readonly status: HealthStatus;
      readonly details?: Readonly<Record<string, string | number | boolean>>;
    };

/** A custom check (a database ping, a disk-space probe); `signal` aborts when it times out. */
export type HealthCheck = (signal: AbortSignal) => HealthCheckResult | Promise<HealthCheckResult>;

/** Options of {@link HealthRegistry.addCheck}. */
export interface HealthCheckOptions {
  /**
   * Whether a failure of this check makes the service `critical` (rather than `unhealthy`).
   * Default: false.
   */
  readonly critical?: boolean;
  /** Milliseconds the check may take before it counts as failed. Default: 2000. */
  readonly timeoutMs?: number;
}

/** One check's result in a {@link HealthReport}. */
export interface CheckReport {
  readonly name: string;
  readonly status: HealthStatus;
  readonly critical: boolean;
  readonly durationMs: number;
  /** `error.type` of a check that threw or timed out (never its message). */
  readonly errorType?: string;
  readonly details?: Readonly<Record<string, string | number | boolean>>;
}

/** Everything {@link HealthRegistry.report} returns: what `/status` serves. */
export interface HealthReport {
  /** The worst status of every check, breaker, bulkhead and budget below. */
  readonly status: HealthStatus;
  /**
   * Whether the service should receive traffic (what `/health` answers with 200 or 503): false
   * only when a check is `unhealthy` or `critical`. Open breakers and full bulkheads make the
   * status worse but not the readiness: they protect this instance from a failing dependency or
   * from overload, and taking the instance out of rotation would move its load to the others.
   */
  readonly ready: boolean;
  /** ISO 8601 time of the report. */
  readonly checkedAt: string;
  readonly checks: readonly CheckReport[];
  /** `open` and `isolated` count as `critical` (seed 003), `half_open` as `degraded`. */
  /**
   * Each breaker's name and state, and its constant attributes when it has some (a per-host
   * breaker's `server.address` tells breakers of one name apart).
   */
  readonly breakers: ReadonlyArray<{
    readonly name: string;
    readonly state: string;
    readonly attributes?: Readonly<Record<string, string>>;
  }>;
  /** A bulkhead with every slot taken or a non-empty queue is `degraded`. */
  readonly bulkheads: ReadonlyArray<{
    readonly name: string;
    readonly active: number;
    readonly queued: number;
    readonly maxConcurrent: number;
    readonly maxQueued: number;
  }>;
  /** A budget with less than one retry left is `degraded`. */
  readonly budgets: ReadonlyArray<{ readonly name: string; readonly balance: number }>;
}

interface RegisteredCheck {
  readonly name: string;
  readonly check: HealthCheck;
  readonly critical: boolean;
  readonly timeout: TimeoutPolicy;
}

const DEFAULT_CHECK_TIMEOUT_MS = 2_000;

const worse = (a: HealthStatus, b: HealthStatus): HealthStatus =>
  HEALTH_STATUSES.indexOf(a) >= HEALTH_STATUSES.indexOf(b) ? a : b;

/**
 * What the service's health is made of: custom checks, and the breakers, bulkheads and retry
 * budgets whose state tells an operator where it is degraded. The HTTP middleware serves its
 * {@link report} on `/status` and its readiness on `/health`; sources are added with `add*()` and
 * removed by disposing what those return.
 */
export class HealthRegistry {
  private readonly checks = new Map<string, RegisteredCheck>();
  private readonly breakerSources = new Set<() => Iterable<CircuitBreakerPolicy>>();
  private readonly bulkheads = new Set<BulkheadPolicy>();
  private readonly budgets = new Set<RetryBudget>();
  private inFlight: Promise<HealthReport> | undefined;

  /**
   * Adds a check run on every report, in parallel with the others, bounded by `timeoutMs`.
   * @throws TypeError when the name is taken or an option is invalid.
   */
  addCheck(name: string, check: HealthCheck, options: HealthCheckOptions = {}): Disposable {
    checkName('name', name);
    checkFunction('check', check);
    if (this.checks.has(name)) throw new TypeError(`a health check named "${name}" exists already`);
    const timeoutMs = checkPositive('timeoutMs', options.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS);
    const entry: RegisteredCheck = {
      name,
      check,
      critical: options.critical === true,
      timeout: timeout(timeoutMs, { name: 'health_check', strategy: 'aggressive' }),
    };
    this.checks.set(name, entry);
    return { dispose: () => void (this.checks.get(name) === entry && this.checks.delete(name)) };
  }

  /** Adds one breaker, or a function listing a changing set of them (per-host breakers). */
  addBreakers(source: CircuitBreakerPolicy | (() => Iterable<CircuitBreakerPolicy>)): Disposable {
    const list = typeof source === 'function' ? source : () => [source];
    this.breakerSources.add(list);
    return { dispose: () => void this.breakerSources.delete(list) };
  }

  /** Adds a bulkhead whose load appears in the report. */
  addBulkhead(bulkhead: BulkheadPolicy): Disposable {
    this.bulkheads.add(bulkhead);
    return { dispose: () => void this.bulkheads.delete(bulkhead) };
  }

  /** Adds a retry budget whose balance appears in the report. */
  addBudget(budget: RetryBudget): Disposable {
    this.budgets.add(budget);
    return { dispose: () => void this.budgets.delete(budget) };
  }

  /**
   * Runs the checks and reads every registered source. Never rejects. Calls made while a report
   * is being made share it, so a burst of probes runs each check once.
   */
  report(): Promise<HealthReport> {
    if (this.inFlight === undefined) {
      this.inFlight = this.makeReport().finally(() => {
        this.inFlight = undefined;
      });
    }
    return this.inFlight;
  }

  private async makeReport(): Promise<HealthReport> {
    const checks = await Promise.all([...this.checks.values()].map(runCheck));
    let status: HealthStatus = 'healthy';
    let ready = true;
    for (const check of checks) {
      status = worse(status, check.status);
      if (check.status === 'unhealthy' || check.status === 'critical') ready = false;
    }
    const breakers: Array<HealthReport['breakers'][number]> = [];
    for (const source of this.breakerSources) {
      for (const breaker of source()) {
        const state = breaker.state;
        const attributes = breaker.attributes;
        breakers.push(
          attributes === undefined
            ? { name: breaker.name, state }
            : { name: breaker.name, state, attributes },
        );
        if (state === 'open' || state === 'isolated') status = worse(status, 'critical');
        else if (state === 'half_open') status = worse(status, 'degraded');
      }
    }
    const bulkheads = [...this.bulkheads].map((b) => {
      if (b.queued > 0 || b.active >= b.maxConcurrent) status = worse(status, 'degraded');
      return {
        name: b.name,
        active: b.active,
        queued: b.queued,
        maxConcurrent: b.maxConcurrent,
        maxQueued: b.maxQueued,
      };
    });
    const budgets = [...this.budgets].map((budget) => {
      const balance = budget.balance;
      if (balance < 1) status = worse(status, 'degraded');
      return { name: budget.name, balance };
    });
    return {
      status,
      ready,
      checkedAt: new Date().toISOString(),
      checks,
      breakers,
      bulkheads,
      budgets,
    };
  }
}

async function runCheck(entry: RegisteredCheck): Promise<CheckReport> {
  const startMs = monotonicNow();
  const failed: HealthStatus = entry.critical ? 'critical' : 'unhealthy';
  const base = { name: entry.name, critical: entry.critical };
  try {
    const result = await executeQuietly(entry.timeout, ({ signal }) => entry.check(signal));
    const durationMs = Math.round(monotonicNow() - startMs);
    if (typeof result === 'boolean') {
      return { ...base, status: result ? 'healthy' : failed, durationMs };
    }
    const status = typeof result === 'string' ? result : result?.status;
    if (!HEALTH_STATUSES.includes(status as HealthStatus)) {
      return { ...base, status: failed, durationMs, errorType: 'invalid_result' };
    }
    const details = typeof result === 'object' ? result.details : undefined;
    return {
      ...base,
      // A non-critical check cannot make the service critical by itself.
      status: status === 'critical' && !entry.critical ? 'unhealthy' : (status as HealthStatus),
      durationMs,
      ...(details === undefined ? {} : { details }),
    };
  } catch (error) {
    return {
      ...base,
      status: failed,
      durationMs: Math.round(monotonicNow() - startMs),
      errorType: errorTypeOf(error),
    };
  }
}
