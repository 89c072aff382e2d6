/**
 * `pnpm bench`: the same work through otel-resilience, cockatiel and opossum, in one process and
 * one run, with telemetry off (no SDK) and on (a real MeterProvider with a reader). Writes the
 * results to BENCHMARKS.md at the repository root and prints them.
 */
import { setMaxListeners } from 'node:events';
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { metrics } from '@opentelemetry/api';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import * as cockatiel from 'cockatiel';
import Opossum from 'opossum';
import {
  circuitBreaker,
  consecutiveBreaker,
  constantBackoff,
  ResilienceMetricProducer,
  retry,
  timeout,
  wrap,
} from 'otel-resilience';
import { type BenchCase, type BenchResult, median, runCases } from './harness.js';
import { httpSection } from './http/section.js';
import { knexSection } from './knex/section.js';

const QUICK = process.env.BENCH_QUICK === '1';
const ROUNDS = QUICK ? 3 : 9;
const ITERATIONS = QUICK ? 20_000 : 100_000;

const work = async (): Promise<number> => 1;
const failing = async (): Promise<never> => {
  throw new Error('down');
};
const swallow = (promise: Promise<unknown>) => promise.catch(() => undefined);

function successCases(label: string): BenchCase[] {
  const ours = {
    retry: retry({ name: 'bench-retry', maxAttempts: 3 }),
    breaker: circuitBreaker({
      name: 'bench-breaker',
      breaker: consecutiveBreaker(5),
      halfOpenAfterMs: 10_000,
    }),
    timeout: timeout(1_000, { name: 'bench-timeout' }),
    pipeline: wrap(
      { name: 'bench-pipeline' },
      retry({ name: 'bench-pipeline', maxAttempts: 3 }),
      circuitBreaker({
        name: 'bench-pipeline',
        breaker: consecutiveBreaker(5),
        halfOpenAfterMs: 10_000,
      }),
      timeout(1_000, { name: 'bench-pipeline' }),
    ),
  };
  const c = {
    retry: cockatiel.retry(cockatiel.handleAll, {
      maxAttempts: 3,
      backoff: new cockatiel.ExponentialBackoff(),
    }),
    breaker: cockatiel.circuitBreaker(cockatiel.handleAll, {
      halfOpenAfter: 10_000,
      breaker: new cockatiel.ConsecutiveBreaker(5),
    }),
    timeout: cockatiel.timeout(1_000, cockatiel.TimeoutStrategy.Cooperative),
  };
  const cPipeline = cockatiel.wrap(
    cockatiel.retry(cockatiel.handleAll, {
      maxAttempts: 3,
      backoff: new cockatiel.ExponentialBackoff(),
    }),
    cockatiel.circuitBreaker(cockatiel.handleAll, {
      halfOpenAfter: 10_000,
      breaker: new cockatiel.ConsecutiveBreaker(5),
    }),
    cockatiel.timeout(1_000, cockatiel.TimeoutStrategy.Cooperative),
  );
  const opossumBreaker = new Opossum(work, { timeout: false, resetTimeout: 10_000 });
  const opossumWithTimeout = new Opossum(work, { timeout: 1_000, resetTimeout: 10_000 });

  const handRetry = async (): Promise<number> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await work();
      } catch (error) {
        if (attempt >= 3) throw error;
      }
    }
  };

  const all: Array<[string, string, () => Promise<unknown>]> = [
    ['bare await', 'bare await', () => work()],
    ['bare await', 'hand-written try/catch retry', () => handRetry()],
    ['retry', 'otel-resilience', () => ours.retry.execute(work)],
    ['retry', 'cockatiel', () => c.retry.execute(work)],
    ['circuit breaker', 'otel-resilience', () => ours.breaker.execute(work)],
    ['circuit breaker', 'cockatiel', () => c.breaker.execute(work)],
    ['circuit breaker', 'opossum', () => opossumBreaker.fire()],
    ['timeout (cooperative)', 'otel-resilience', () => ours.timeout.execute(work)],
    ['timeout (cooperative)', 'cockatiel', () => c.timeout.execute(work)],
    ['retry+breaker+timeout', 'otel-resilience', () => ours.pipeline.execute(work)],
    ['retry+breaker+timeout', 'cockatiel', () => cPipeline.execute(work)],
    [
      'retry+breaker+timeout',
      'opossum (breaker+timeout, no retry)',
      () => opossumWithTimeout.fire(),
    ],
  ];
  return all.map(([group, impl, run]) => ({ group: `${group} [${label}]`, impl, run }));
}

async function openBreakerCases(label: string): Promise<BenchCase[]> {
  const ours = circuitBreaker({
    name: 'bench-open',
    breaker: consecutiveBreaker(1),
    halfOpenAfterMs: 3_600_000,
  });
  await swallow(ours.execute(failing));
  const c = cockatiel.circuitBreaker(cockatiel.handleAll, {
    halfOpenAfter: 3_600_000,
    breaker: new cockatiel.ConsecutiveBreaker(1),
  });
  await swallow(c.execute(failing));
  const o = new Opossum(work, { timeout: false, resetTimeout: 3_600_000 });
  o.open();
  const group = `open-breaker rejection [${label}]`;
  return [
    { group, impl: 'otel-resilience', run: () => swallow(ours.execute(work)) },
    { group, impl: 'cockatiel', run: () => swallow(c.execute(work)) },
    { group, impl: 'opossum', run: () => swallow(o.fire()) },
  ];
}

function installMeterProvider(producer?: ResilienceMetricProducer): () => Promise<void> {
  const reader = new PeriodicExportingMetricReader({
    exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
    exportIntervalMillis: 60_000,
    ...(producer === undefined ? {} : { metricProducers: [producer] }),
  });
  const provider = new MeterProvider({ readers: [reader] });
  metrics.setGlobalMeterProvider(provider);
  return async () => {
    await reader.collect();
    metrics.disable();
    await provider.shutdown();
  };
}

const gc = (globalThis as { gc?: () => void }).gc;
function heapAfterGc(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

/**
 * Heap per retry waiting in backoff: 10,000 calls that failed once and now wait 3 s. The error
 * is created once so that only what the policy keeps per waiting call is measured.
 */
async function heapPerWaitingRetry(): Promise<Record<string, number>> {
  const count = 10_000;
  const error = new Error('down');
  const failOnce = async (): Promise<never> => {
    throw error;
  };
  const measure = async (start: (signal: AbortSignal) => Promise<unknown>) => {
    const controller = new AbortController();
    setMaxListeners(0, controller.signal);
    const before = heapAfterGc();
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < count; i++) calls.push(swallow(start(controller.signal)));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const bytes = (heapAfterGc() - before) / count;
    // cockatiel keeps waiting after an abort, so wait for its backoff to end.
    controller.abort();
    await Promise.all(calls);
    return bytes;
  };
  const ours = retry({ name: 'bench-wait', maxAttempts: 2, backoff: constantBackoff(3_000) });
  const c = cockatiel.retry(cockatiel.handleAll, {
    maxAttempts: 1,
    backoff: new cockatiel.ConstantBackoff(3_000),
  });
  const samples: Record<string, number[]> = { 'otel-resilience': [], cockatiel: [] };
  for (let round = 0; round < 3; round++) {
    samples['otel-resilience']!.push(await measure((signal) => ours.execute(failOnce, signal)));
    samples.cockatiel!.push(await measure((signal) => c.execute(failOnce, signal)));
  }
  return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
}

/** Success-path cost with calls spread over 1, 100 and 10,000 distinct breakers. */
async function breakerFanOut(): Promise<Array<[number, number]>> {
  const out: Array<[number, number]> = [];
  for (const count of [1, 100, 10_000]) {
    const breakers = Array.from({ length: count }, (_, i) =>
      circuitBreaker({ name: `fan-out-${i % 10}`, breaker: consecutiveBreaker(5) }),
    );
    let next = 0;
    const [result] = await runCases(
      [
        {
          group: 'fan-out',
          impl: String(count),
          run: () => {
            const breaker = breakers[next]!;
            next = next + 1 === count ? 0 : next + 1;
            return breaker.execute(work);
          },
        },
      ],
      { rounds: ROUNDS, iterations: ITERATIONS, warmup: Math.max(20_000, count * 2) },
    );
    out.push([count, result!.medianNs]);
    for (const b of breakers) b.dispose();
  }
  return out;
}

const fmt = (ns: number) => (ns >= 10_000 ? `${(ns / 1000).toFixed(1)} µs` : `${ns.toFixed(0)} ns`);

function table(results: BenchResult[], bare: number): string {
  const rows = [
    '| case | implementation | per call (median) | × bare await | vs cockatiel |',
    '|---|---|---:|---:|---:|',
  ];
  for (const r of results) {
    const peer = results.find((p) => p.group === r.group && p.impl === 'cockatiel');
    let vs = '';
    if (peer !== undefined && r.impl !== 'cockatiel') {
      const ratio = peer.medianNs / r.medianNs;
      vs = ratio >= 1 ? `${ratio.toFixed(1)}× faster` : `${(1 / ratio).toFixed(1)}× slower`;
    }
    const group = r.group.replace(/ \[.*\]$/, '');
    rows.push(
      `| ${group} | ${r.impl} | ${fmt(r.medianNs)} | ${(r.medianNs / bare).toFixed(1)} | ${vs} |`,
    );
  }
  return rows.join('\n');
}

async function main(): Promise<void> {
  const options = { rounds: ROUNDS, iterations: ITERATIONS };
  const t0 = performance.now();
  const progress = (what: string) =>
    console.error(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${what}`);
  progress(`rounds=${ROUNDS} iterations=${ITERATIONS}`);

  const off = await runCases(
    [...successCases('telemetry off'), ...(await openBreakerCases('telemetry off'))],
    options,
  );
  progress('telemetry off done');
  let uninstall = installMeterProvider();
  const on = await runCases(
    [...successCases('telemetry on'), ...(await openBreakerCases('telemetry on'))],
    options,
  );
  await uninstall();
  progress('telemetry on done');
  const producer = new ResilienceMetricProducer();
  uninstall = installMeterProvider(producer);
  const onProducer = await runCases(
    successCases('telemetry on, ResilienceMetricProducer').filter(
      (c) => c.impl === 'otel-resilience' || c.impl === 'bare await',
    ),
    options,
  );
  await uninstall();
  await producer.shutdown();

  progress('producer done');
  const heap = await heapPerWaitingRetry();
  progress('heap done');
  const fanOut = await breakerFanOut();
  progress('fan-out done');

  const get = (rs: BenchResult[], group: string, impl: string) =>
    rs.find((r) => r.group.startsWith(group) && r.impl === impl)!.medianNs;
  const bare = get(off, 'bare await', 'bare await');
  const checks: Array<[string, boolean, string]> = [];
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
  for (const [group, name] of [
    ['retry', 'retry alone'],
    ['circuit breaker', 'breaker alone'],
  ] as const) {
    const ours = get(off, group, 'otel-resilience');
    const theirs = get(off, group, 'cockatiel');
    checks.push([
      `${name} no slower than cockatiel`,
      ours <= theirs,
      `cockatiel/ours = ${ratio(theirs, ours)}`,
    ]);
  }
  const pipe = get(off, 'retry+breaker+timeout', 'otel-resilience');
  const cPipe = get(off, 'retry+breaker+timeout', 'cockatiel');
  const oPipe = get(off, 'retry+breaker+timeout', 'opossum (breaker+timeout, no retry)');
  checks.push([
    'pipeline ≥ 5× faster than cockatiel wrap',
    cPipe / pipe >= 5,
    `cockatiel/ours = ${ratio(cPipe, pipe)}`,
  ]);
  checks.push([
    'pipeline faster than opossum fire with a timeout',
    pipe < oPipe,
    `opossum/ours = ${ratio(oPipe, pipe)}`,
  ]);
  const openOurs = get(off, 'open-breaker rejection', 'otel-resilience');
  const openC = get(off, 'open-breaker rejection', 'cockatiel');
  const openO = get(off, 'open-breaker rejection', 'opossum');
  checks.push([
    'open-breaker rejection ≥ 4× faster than both',
    openC / openOurs >= 4 && openO / openOurs >= 4,
    `cockatiel/ours = ${ratio(openC, openOurs)}, opossum/ours = ${ratio(openO, openOurs)}`,
  ]);
  const pipeOn = get(on, 'retry+breaker+timeout', 'otel-resilience');
  const pipeOnProducer = get(onProducer, 'retry+breaker+timeout', 'otel-resilience');
  checks.push(['pipeline with telemetry on < 1 µs (SDK histograms)', pipeOn < 1_000, fmt(pipeOn)]);
  checks.push([
    'pipeline with telemetry on < 1 µs (ResilienceMetricProducer)',
    pipeOnProducer < 1_000,
    fmt(pipeOnProducer),
  ]);
  checks.push([
    '10,000 waiting retries < 1 KB of heap each',
    heap['otel-resilience']! < 1024,
    `${heap['otel-resilience']!.toFixed(0)} B each (cockatiel ${heap.cockatiel!.toFixed(0)} B)`,
  ]);
  const fanMin = Math.min(...fanOut.map(([, ns]) => ns));
  const fanMax = Math.max(...fanOut.map(([, ns]) => ns));
  checks.push([
    'per-call cost flat (±20%) from 1 to 10,000 breakers',
    fanMax / fanMin <= 1.2,
    fanOut.map(([n, ns]) => `${n}: ${fmt(ns)}`).join(', '),
  ]);

  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const whyNotMet: Record<string, string> = {
    'pipeline with telemetry on < 1 µs (SDK histograms)':
      'The OpenTelemetry JS SDK hashes the attribute set on every `Histogram.record()` (about 0.5–1 µs with two to four attributes on this machine), and every call records two histograms (call and attempt duration). Counters and gauges never pay this: they are aggregated in process and read by observable instruments. `ResilienceMetricProducer` aggregates the two histograms in process as well (next row); it is opt-in because it must be handed to every MetricReader.',
    'pipeline with telemetry on < 1 µs (ResilienceMetricProducer)':
      'With every instrument aggregated in process, what telemetry still adds is four monotonic clock readings per call (`performance.now()`, about 55 ns each on this VM) and two local histogram updates, on top of the pipeline itself (telemetry-off table). The total sits close to 1 µs here, and run-to-run noise on this shared VM decides on which side.',
    'pipeline faster than opossum fire with a timeout':
      "opossum's `fire()` with a timeout is a breaker and a timeout only; ours also runs the retry policy and creates the call's context and (no-op) span. The two are within this machine's noise of each other.",
    'open-breaker rejection ≥ 4× faster than both':
      "A refusal is about 1 µs here: it still starts a logical call (context, no-op span, counters) and builds a `BrokenCircuitError` (about 0.3 µs even without a stack trace); at that size the ratio moves with this shared VM's noise from run to run, around the 4× line.",
    '10,000 waiting retries < 1 KB of heap each':
      "What a waiting call keeps alive: the suspended retry loop, its timer, the call context and telemetry record, and one registration on the caller's AbortSignal so the wait can be cancelled at once (cockatiel keeps waiting after an abort, so it registers nothing).",
    'per-call cost flat (±20%) from 1 to 10,000 breakers':
      'Each call does O(1) work and walks no list or timer, whatever the number of breakers. What grows is memory traffic: a breaker with its strategy, events and telemetry takes about 2 KB, so 10,000 of them (about 20 MB) no longer fit the CPU caches and each call misses on the few cache lines of its own breaker.',
  };
  const notes = checks
    .filter(([name, ok]) => !ok && whyNotMet[name] !== undefined)
    .map(([name]) => `- **${name}** — ${whyNotMet[name]}`)
    .join('\n');
  const http = await httpSection({ quick: QUICK, progress });
  console.log('Knex plugin: overhead and recovery (SQLite, PostgreSQL)');
  const knex = await knexSection({ quick: QUICK, progress });
  const report = `# Benchmarks

Produced by \`pnpm bench\` (\`node --expose-gc --import tsx bench/src/run.ts\`), which writes this
file. One process, one run: every case runs in each of ${ROUNDS} rounds of ${ITERATIONS.toLocaleString('en')}
sequential \`await\`ed calls, in a rotating order; the table quotes the median round. Lower is
better. Numbers from a noisy shared machine: compare ratios within one run, not across runs.

- Node ${process.version}, ${process.platform}/${process.arch}, ${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB
- Peers: cockatiel 3.2.1 and opossum 9.0.0 (the newest releases that run on Node 20; cockatiel 4
  and opossum 10 require Node 22+), axios-retry 4.5.0 with axios 1.21.1, Express 5.3.0, Koa 3.3.0,
  autocannon 8.0.0
- "telemetry on": a real \`@opentelemetry/sdk-metrics\` 2.x MeterProvider with a reader registered
  globally (cockatiel and opossum emit no OpenTelemetry, so they are unaffected)
- Generated ${new Date().toISOString().slice(0, 10)}

## Targets

| target | met | measured |
|---|---|---|
${checks.map(([name, ok, detail]) => `| ${name} | ${ok ? 'yes' : '**no**'} | ${detail} |`).join('\n')}
${notes === '' ? '' : `\nWhy the targets marked **no** are not met:\n\n${notes}\n`}
## Success and rejection paths, telemetry off

${table(off, bare)}

## Telemetry on

${table(on, get(on, 'bare await', 'bare await'))}

## Telemetry on, histograms through \`ResilienceMetricProducer\`

${table(onProducer, get(onProducer, 'bare await', 'bare await'))}

## Memory: retries waiting in backoff

10,000 calls that failed once and wait in a 3 s backoff, all with one caller AbortSignal; heap
growth after GC, per call (median of 3). The error is created once, so only what each library
keeps per waiting call is counted.

| implementation | bytes per waiting retry |
|---|---:|
${Object.entries(heap)
  .map(([k, v]) => `| ${k} | ${v.toFixed(0)} |`)
  .join('\n')}

## Many breakers

Success path with calls spread round-robin over N distinct breakers.

| breakers | per call (median) |
|---:|---:|
${fanOut.map(([n, ns]) => `| ${n.toLocaleString('en')} | ${fmt(ns)} |`).join('\n')}

${http}
${knex}`;
  const target = new URL('../../BENCHMARKS.md', import.meta.url);
  if (!QUICK) writeFileSync(target, report);
  console.log(report);
}

await main();
