/**
 * The demo: a flaky dependency behind one resilience pipeline, driven through four phases —
 * healthy, brownout, full outage and recovery — then load shedding and a batch with per-item
 * retry. Every decision the policies take is printed as it happens, and the OpenTelemetry metrics
 * they emitted are summarised at the end.
 */
import { type Attributes, metrics } from '@opentelemetry/api';
import {
  AggregationTemporality,
  type DataPoint,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  aggressiveBackoff,
  BulkheadRejectedError,
  bulkhead,
  circuitBreaker,
  consecutiveBreaker,
  fallback,
  isBrokenCircuitError,
  processBatch,
  RetryBudget,
  retry,
  timeout,
  wrap,
} from 'otel-resilience';
import { FlakyDependency } from './FlakyDependency.js';

const reader = new PeriodicExportingMetricReader({
  exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
  exportIntervalMillis: 3_600_000,
});
const meterProvider = new MeterProvider({ readers: [reader] });
metrics.setGlobalMeterProvider(meterProvider);

const started = performance.now();
const log = (line: string) =>
  console.log(`${((performance.now() - started) / 1000).toFixed(2).padStart(6)}s  ${line}`);

const inventory = new FlakyDependency({ failureRate: 0, latencyMs: 5 });
const budget = new RetryBudget({ name: 'inventory', percentCanRetry: 0.2, minRetriesPerSecond: 5 });
// An open breaker's rejection carries the time until its next trial as a Retry-After hint; waiting
// longer than 250 ms for it is not worth it here, so the retry gives up and the fallback answers.
// 429s back off 3^n from 50 ms (the default starts at 1 s) — the per-category strategy table.
const retryPolicy = retry({
  name: 'inventory',
  maxAttempts: 4,
  budget,
  maxRetryAfterMs: 250,
  strategies: { rate_limited: { backoff: aggressiveBackoff({ initialDelayMs: 50 }) } },
});
const breaker = circuitBreaker({
  name: 'inventory',
  breaker: consecutiveBreaker(5),
  halfOpenAfterMs: 1_000,
  successThreshold: 2,
});
const cached = fallback(() => -1, { name: 'inventory' });
const pipeline = wrap(
  { name: 'inventory' },
  cached,
  retryPolicy,
  breaker,
  timeout(200, { name: 'inventory' }),
);

retryPolicy.onRetry(({ attempt, delayMs, classification }) =>
  log(
    `  retry: attempt ${attempt} failed (${classification.errorType}), next in ${Math.round(delayMs)} ms`,
  ),
);
retryPolicy.onGiveUp(({ attempts, reason, classification }) =>
  log(
    `  no retry after attempt ${attempts} (${classification.errorType}: ${reason}); the fallback answers from cache`,
  ),
);
breaker.onStateChange(({ from, to }) => log(`  breaker: ${from} -> ${to}`));

const tally = { ok: 0, fromCache: 0, failed: 0 };
async function call(sku: string): Promise<void> {
  try {
    const level = await pipeline.execute(({ signal }) => inventory.stockLevel(sku, signal));
    if (level === -1) tally.fromCache++;
    else tally.ok++;
  } catch (error) {
    tally.failed++;
    log(`  call failed: ${isBrokenCircuitError(error) ? 'circuit open' : (error as Error).name}`);
  }
}

async function phase(name: string, mode: FlakyDependency['mode'], calls: number, gapMs: number) {
  inventory.mode = mode;
  log(
    `== ${name}: failure rate ${mode.failureRate * 100}%, 429 rate ${(mode.rateLimitRate ?? 0) * 100}%`,
  );
  const before = { ...tally, dependencyCalls: inventory.calls };
  for (let i = 0; i < calls; i++) {
    await call(`sku-${i}`);
    await new Promise((resolve) => setTimeout(resolve, gapMs));
  }
  log(
    `   ${calls} calls -> ${tally.ok - before.ok} answered, ${tally.fromCache - before.fromCache} from cache, ` +
      `${tally.failed - before.failed} failed; the dependency saw ${inventory.calls - before.dependencyCalls} requests; ` +
      `breaker ${breaker.state}, retry budget ${budget.balance.toFixed(1)} tokens`,
  );
}

await phase('healthy', { failureRate: 0, latencyMs: 5 }, 20, 10);
await phase(
  'brownout',
  { failureRate: 0.3, rateLimitRate: 0.1, retryAfterSeconds: 0, latencyMs: 20 },
  20,
  10,
);
await phase('outage', { failureRate: 1, latencyMs: 5 }, 30, 20);
await phase('recovery', { failureRate: 0, latencyMs: 5 }, 20, 100);

log('== load shedding: 20 concurrent requests into a bulkhead of 4 running + 4 queued');
const shed = bulkhead(4, { name: 'checkout', maxQueued: 4 });
const burst = await Promise.allSettled(
  Array.from({ length: 20 }, () => shed.execute(() => new Promise((r) => setTimeout(r, 50)))),
);
const rejected = burst.filter(
  (r) => r.status === 'rejected' && r.reason instanceof BulkheadRejectedError,
).length;
log(`   ${20 - rejected} served, ${rejected} shed with BulkheadRejectedError`);

log('== batch: 10 items, per-item retry, two of them are bad data (422, never retried)');
let flaky = 0;
const batch = await processBatch(
  Array.from({ length: 10 }, (_, i) => i),
  async (item) => {
    if (item === 3 || item === 7) {
      throw Object.assign(new Error('unprocessable'), { status: 422 });
    }
    if (item % 4 === 0 && flaky++ % 2 === 0) {
      throw Object.assign(new Error('reset'), { code: 'ECONNRESET' });
    }
    return item * 2;
  },
  { concurrency: 3, policy: retry({ name: 'batch', maxAttempts: 3 }) },
);
log(
  `   ${batch.succeeded.length} succeeded, ${batch.failed.length} failed: ` +
    batch.failed
      .map((f) => `item ${f.item} (${f.classification.category}, ${f.attempts.length} attempt)`)
      .join(', '),
);

const { resourceMetrics } = await reader.collect();
const collected = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
/** Sum of a counter's points, or of a histogram's counts, over the points `filter` keeps. */
function sum(name: string, filter: (attributes: Attributes) => boolean = () => true): number {
  let total = 0;
  for (const metric of collected) {
    if (metric.descriptor.name !== name) continue;
    for (const point of metric.dataPoints as DataPoint<number | { count: number }>[]) {
      if (!filter(point.attributes)) continue;
      total += typeof point.value === 'number' ? point.value : point.value.count;
    }
  }
  return total;
}

console.log('\nWhat OpenTelemetry recorded (the same series /metrics would expose):');
console.log(
  `  resilience.call.duration count (inventory)      ${sum('resilience.call.duration', (a) => a['resilience.name'] === 'inventory')}`,
);
console.log(
  `  resilience.attempt.duration count (inventory)   ${sum('resilience.attempt.duration', (a) => a['resilience.name'] === 'inventory')}`,
);
for (const reason of [
  'retryable',
  'max_attempts',
  'non_retryable',
  'budget',
  'retry_after_too_long',
]) {
  const n = sum('resilience.retry.decisions', (a) => a['resilience.retry.reason'] === reason);
  if (n > 0) console.log(`  resilience.retry.decisions reason=${reason.padEnd(22)} ${n}`);
}
console.log(
  `  resilience.circuit_breaker.transitions           ${sum('resilience.circuit_breaker.transitions')}`,
);
console.log(
  `  resilience.circuit_breaker.rejections            ${sum('resilience.circuit_breaker.rejections')}`,
);
console.log(`  resilience.fallbacks                             ${sum('resilience.fallbacks')}`);
console.log(
  `  resilience.bulkhead.rejections                   ${sum('resilience.bulkhead.rejections')}`,
);
console.log(`  resilience.timeouts                              ${sum('resilience.timeouts')}`);
console.log(
  `\nTotals: ${tally.ok} answered, ${tally.fromCache} from cache, ${tally.failed} failed; ` +
    `the dependency received ${inventory.calls} requests for ${20 + 20 + 30 + 20} calls.`,
);
await meterProvider.shutdown();
