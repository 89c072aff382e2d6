/**
 * The load driver: a steady offered load of mixed requests against an example service — reads
 * (`GET /orders/:id`: a database read and an upstream call) and writes (`POST /orders`: a
 * transaction) — through named fault phases of the upstream (healthy, brownout, full outage,
 * recovery), collecting the outcome of every request per phase.
 *
 * The load is open-loop: requests are sent at `ratePerSecond` whatever the service's latency, as
 * real clients do, so a slow dependency piles requests up in the service (and its load shedding
 * shows). Works against a service in this process or another one: it speaks HTTP to the service,
 * and to the upstream through an {@link UpstreamControl}.
 */

import type { UpstreamControl, UpstreamMode, UpstreamStats } from './FlakyUpstream.js';
import { SEEDED_ORDERS, SKUS } from './settings.js';

export const PHASE_NAMES = ['healthy', 'brownout', 'outage', 'recovery'] as const;
export type PhaseName = (typeof PHASE_NAMES)[number];

export interface Phase {
  readonly name: string;
  /** One line saying what happens to the upstream. */
  readonly description: string;
  readonly durationMs: number;
  /** The upstream's mode during the phase (applied over the healthy mode). */
  readonly upstream: Partial<UpstreamMode>;
  /** Holds the database's write lock for `holdMs` every `everyMs` (SQLite), if given. */
  readonly databaseLock?: { readonly everyMs: number; readonly holdMs: number };
  /** Sends `requests` extra reads at once every `everyMs` (a burst of client retries), if given. */
  readonly spike?: { readonly everyMs: number; readonly requests: number };
}

/** Default durations, in ms: 34 s in all. */
export const DEFAULT_DURATIONS: Readonly<Record<PhaseName, number>> = {
  healthy: 6_000,
  brownout: 8_000,
  outage: 10_000,
  recovery: 10_000,
};

/** The four phases, with the given durations (ms) where set. */
export function defaultPhases(durations: Partial<Record<PhaseName, number>> = {}): Phase[] {
  const ms = (name: PhaseName) => durations[name] ?? DEFAULT_DURATIONS[name];
  return [
    {
      name: 'healthy',
      description: 'the upstream answers in ~10 ms',
      durationMs: ms('healthy'),
      upstream: {},
    },
    {
      name: 'brownout',
      description:
        '25% 503s, 10% 429s (Retry-After 1 s), 50-350 ms latency; 20 extra reads at once every 2 s; DB write lock bursts',
      durationMs: ms('brownout'),
      upstream: {
        failureRate: 0.25,
        status: 503,
        rateLimitRate: 0.1,
        retryAfterSeconds: 1,
        latencyMs: 50,
        latencyJitterMs: 300,
      },
      databaseLock: { everyMs: 1_000, holdMs: 120 },
      spike: { everyMs: 2_000, requests: 20 },
    },
    {
      name: 'outage',
      description: 'every upstream request fails (503 after 100 ms)',
      durationMs: ms('outage'),
      upstream: { failureRate: 1, status: 503, latencyMs: 100 },
    },
    {
      name: 'recovery',
      description: 'the upstream is healthy again',
      durationMs: ms('recovery'),
      upstream: {},
    },
  ];
}

/**
 * Phase durations from the environment: `DEMO_PHASE_SECONDS=5` (every phase 5 s) or
 * `DEMO_PHASE_SECONDS=healthy=4,brownout=6,outage=8,recovery=8`. Unset or empty: the defaults.
 * @throws TypeError on a malformed value.
 */
export function phaseDurationsFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): Partial<Record<PhaseName, number>> {
  const raw = env.DEMO_PHASE_SECONDS?.trim();
  if (raw === undefined || raw === '') return {};
  const seconds = (text: string) => {
    const n = Number(text);
    if (!(Number.isFinite(n) && n > 0 && n <= 3_600)) {
      throw new TypeError(`DEMO_PHASE_SECONDS: ${JSON.stringify(text)} is not a number of seconds`);
    }
    return Math.round(n * 1_000);
  };
  if (!raw.includes('=')) {
    const ms = seconds(raw);
    return Object.fromEntries(PHASE_NAMES.map((name) => [name, ms]));
  }
  const durations: Partial<Record<PhaseName, number>> = {};
  for (const part of raw.split(',')) {
    const [name, value] = part.split('=').map((s) => s.trim());
    if (!(PHASE_NAMES as readonly string[]).includes(name ?? '')) {
      throw new TypeError(
        `DEMO_PHASE_SECONDS: unknown phase ${JSON.stringify(name)} (${PHASE_NAMES.join(', ')})`,
      );
    }
    durations[name as PhaseName] = seconds(value ?? '');
  }
  return durations;
}

/** How a request ended, as the client saw it. */
export type Outcome =
  /** 2xx */
  | 'ok'
  /** 2xx without the upstream's part: the fallback answered (`degraded` in the body) */
  | 'degraded'
  /** answered 503 `shed` by the middleware's load shedding */
  | 'shed'
  /** the request's time limit passed (503 `timeout`), or the upstream call ran out of time (504) */
  | 'timedOut'
  /** refused at once by an open breaker: the route's (503 `circuit_open`) or the database's */
  | 'fastFail'
  /** any other answer >= 400 (the upstream failed after its retries, a database error) */
  | 'failed'
  /** no answer: the connection failed or the client's own timeout */
  | 'noAnswer';

export const OUTCOMES: readonly Outcome[] = [
  'ok',
  'degraded',
  'shed',
  'timedOut',
  'fastFail',
  'failed',
  'noAnswer',
];

export type RequestKind = 'read' | 'write';

export interface RequestResult {
  readonly phase: string;
  readonly kind: RequestKind;
  readonly outcome: Outcome;
  /** HTTP status, 0 without an answer. */
  readonly status: number;
  /** `error` of the JSON answer, if any. */
  readonly error?: string;
  readonly durationMs: number;
}

export type OutcomeCounts = Record<Outcome, number>;

export interface PhaseReport {
  readonly name: string;
  readonly description: string;
  /** How long the phase actually sent requests. */
  readonly durationMs: number;
  readonly sent: number;
  readonly outcomes: OutcomeCounts;
  readonly byKind: Readonly<Record<RequestKind, OutcomeCounts>>;
  /** Latency percentiles (ms) of every answered request of the phase. */
  readonly latencyMs: { readonly p50: number; readonly p95: number; readonly max: number };
  /** What the upstream served during the phase. */
  readonly upstream: UpstreamStats;
}

export interface RunPhasesOptions {
  /** Base URL of the service, `http://127.0.0.1:PORT`. */
  readonly serviceUrl: string;
  /** Switches the upstream's faults at each phase. */
  readonly upstream: UpstreamControl;
  readonly phases: readonly Phase[];
  /** Requests per second offered to the service. Default 25. */
  readonly ratePerSecond?: number;
  /** Share of reads in the mix, 0..1. Default 0.7. */
  readonly readShare?: number;
  /** For phases with `databaseLock` (the in-process database); ignored when absent. */
  readonly database?: { holdWriteLock(ms: number): Promise<void> };
  /** The client's own limit per request, ms. Default 5000. */
  readonly requestTimeoutMs?: number;
  /** Requests in flight at most; beyond, the driver skips sends (counted nowhere). Default 500. */
  readonly maxInFlight?: number;
  /** Called (and awaited) before a phase starts sending, after its faults are set. */
  readonly onPhaseStart?: (phase: Phase, index: number) => void | Promise<void>;
  /** Called with every finished request. */
  readonly onResult?: (result: RequestResult) => void;
  /** Aborting stops sending; requests in flight are awaited. */
  readonly signal?: AbortSignal;
}

const emptyCounts = (): OutcomeCounts => ({
  ok: 0,
  degraded: 0,
  shed: 0,
  timedOut: 0,
  fastFail: 0,
  failed: 0,
  noAnswer: 0,
});

/**
 * The outcome of an answer, from its status and the `error` (answers >= 400) or `degraded`
 * (2xx) field of its JSON body.
 */
export function outcomeOf(status: number, error: string | undefined, degraded = false): Outcome {
  if (status === 0) return 'noAnswer';
  if (status < 400) return degraded ? 'degraded' : 'ok';
  switch (error) {
    case 'shed':
      return 'shed';
    case 'timeout':
    case 'deadline_exceeded':
    case 'upstream_timeout':
      return 'timedOut';
    case 'circuit_open':
    case 'database_unavailable':
      return 'fastFail';
    default:
      return 'failed';
  }
}

/**
 * Runs the phases in order and resolves with one report per phase once every request has
 * finished. The upstream is returned to its healthy mode at the end.
 */
export async function runPhases(options: RunPhasesOptions): Promise<PhaseReport[]> {
  const rate = options.ratePerSecond ?? 25;
  const readShare = options.readShare ?? 0.7;
  const timeoutMs = options.requestTimeoutMs ?? 5_000;
  const maxInFlight = options.maxInFlight ?? 500;
  if (!(rate > 0 && rate <= 10_000)) throw new TypeError(`ratePerSecond must be in (0, 10000]`);
  const base = options.serviceUrl.replace(/\/$/, '');
  const inFlight = new Set<Promise<void>>();
  const collected: Array<{
    phase: Phase;
    startedAt: number;
    endedAt: number;
    sent: number;
    results: RequestResult[];
    upstreamBefore: UpstreamStats;
    upstreamAfter?: UpstreamStats;
  }> = [];
  let sequence = 0;

  const send = (phaseIndex: number, forced?: RequestKind): void => {
    const entry = collected[phaseIndex];
    if (entry === undefined) return;
    const n = sequence++;
    // A deterministic mix: `readShare` of every 20 requests are reads.
    const kind: RequestKind = forced ?? ((n % 20) / 20 < readShare ? 'read' : 'write');
    entry.sent++;
    const started = performance.now();
    const request =
      kind === 'read'
        ? fetch(`${base}/orders/${1 + ((n * 7) % SEEDED_ORDERS)}`, {
            signal: AbortSignal.timeout(timeoutMs),
          })
        : fetch(`${base}/orders`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ sku: SKUS[n % SKUS.length], quantity: 1 + (n % 3) }),
            signal: AbortSignal.timeout(timeoutMs),
          });
    const done = request
      .then(async (res) => {
        let error: string | undefined;
        let degraded = false;
        const text = await res.text();
        try {
          const body = JSON.parse(text) as { error?: unknown; degraded?: unknown };
          if (res.status >= 400 && typeof body.error === 'string') error = body.error;
          degraded = typeof body.degraded === 'string';
        } catch {
          // not JSON: no error name
        }
        return { status: res.status, error, degraded };
      })
      .catch(() => ({ status: 0, error: 'no_answer', degraded: false }))
      .then(({ status, error, degraded }) => {
        const result: RequestResult = {
          phase: entry.phase.name,
          kind,
          outcome: outcomeOf(status, error, degraded),
          status,
          ...(error === undefined ? {} : { error }),
          durationMs: performance.now() - started,
        };
        entry.results.push(result);
        options.onResult?.(result);
      })
      .finally(() => {
        inFlight.delete(done);
      });
    inFlight.add(done);
  };

  try {
    for (const [index, phase] of options.phases.entries()) {
      if (options.signal?.aborted) break;
      await options.upstream.setMode({ reset: true, ...phase.upstream });
      const upstreamBefore = await options.upstream.stats();
      await options.onPhaseStart?.(phase, index);
      const startedAt = performance.now();
      collected.push({
        phase,
        startedAt,
        endedAt: startedAt,
        sent: 0,
        results: [],
        upstreamBefore,
      });
      const entry = collected[index] as (typeof collected)[number];
      await drive(
        phase,
        rate,
        options.signal,
        () => {
          if (inFlight.size < maxInFlight) send(index);
        },
        options.database,
      );
      entry.endedAt = performance.now();
      if (index > 0) {
        const previous = collected[index - 1];
        if (previous !== undefined) previous.upstreamAfter = upstreamBefore;
      }
    }
  } finally {
    await Promise.allSettled([...inFlight]);
    const last = collected.at(-1);
    if (last !== undefined) last.upstreamAfter = await options.upstream.stats();
    await options.upstream.setMode({ reset: true });
  }

  return collected.map((entry) => {
    const outcomes = emptyCounts();
    const byKind = { read: emptyCounts(), write: emptyCounts() };
    const latencies: number[] = [];
    for (const r of entry.results) {
      outcomes[r.outcome]++;
      byKind[r.kind][r.outcome]++;
      if (r.outcome !== 'noAnswer') latencies.push(r.durationMs);
    }
    latencies.sort((a, b) => a - b);
    const at = (q: number) =>
      latencies.length === 0
        ? 0
        : (latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] as number);
    return {
      name: entry.phase.name,
      description: entry.phase.description,
      durationMs: entry.endedAt - entry.startedAt,
      sent: entry.sent,
      outcomes,
      byKind,
      latencyMs: { p50: at(0.5), p95: at(0.95), max: latencies.at(-1) ?? 0 },
      upstream: diffStats(entry.upstreamAfter ?? entry.upstreamBefore, entry.upstreamBefore),
    };
  });
}

/** Sends at `rate` for the phase's duration (ticks of 10 ms), holding DB locks if asked. */
async function drive(
  phase: Phase,
  rate: number,
  signal: AbortSignal | undefined,
  sendOne: (kind?: RequestKind) => void,
  database: RunPhasesOptions['database'],
): Promise<void> {
  const started = performance.now();
  let sent = 0;
  let locksTaken = 0;
  let spikesSent = 0;
  /** Periodic events: the first half-way through the first interval (or the phase), then every `everyMs`. */
  const dueEvents = (elapsed: number, everyMs: number) => {
    const first = Math.min(everyMs, phase.durationMs) / 2;
    return elapsed < first ? 0 : 1 + Math.floor((elapsed - first) / everyMs);
  };
  const locks: Promise<void>[] = [];
  await new Promise<void>((resolve) => {
    // Sends are due at 0, 1/rate, 2/rate, ... s into the phase: a late timer catches up, so the
    // phase offers its full count even when the event loop was busy.
    const total = Math.ceil((phase.durationMs / 1_000) * rate);
    const tick = () => {
      const elapsed = performance.now() - started;
      const due = Math.min(total, Math.floor((elapsed / 1_000) * rate) + 1);
      while (sent < due && !signal?.aborted) {
        sent++;
        sendOne();
      }
      if (elapsed >= phase.durationMs || signal?.aborted) {
        clearInterval(timer);
        resolve();
        return;
      }
      const spike = phase.spike;
      if (spike !== undefined) {
        while (spikesSent < dueEvents(elapsed, spike.everyMs)) {
          spikesSent++;
          for (let i = 0; i < spike.requests; i++) sendOne('read');
        }
      }
      const lock = phase.databaseLock;
      if (lock !== undefined && database !== undefined) {
        const dueLocks = dueEvents(elapsed, lock.everyMs);
        while (locksTaken < dueLocks) {
          locksTaken++;
          locks.push(database.holdWriteLock(lock.holdMs).catch(() => {}));
        }
      }
    };
    const timer = setInterval(tick, 10);
    tick();
  });
  await Promise.all(locks);
}

function diffStats(after: UpstreamStats, before: UpstreamStats): UpstreamStats {
  return {
    requests: after.requests - before.requests,
    ok: after.ok - before.ok,
    failed: after.failed - before.failed,
    rateLimited: after.rateLimited - before.rateLimited,
    reset: after.reset - before.reset,
    abandoned: after.abandoned - before.abandoned,
    inFlight: after.inFlight,
  };
}
