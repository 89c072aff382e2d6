/**
 * The demo, for any example service: starts it in this process (with its flaky upstream and its
 * database), drives the load through the four phases with the live view, prints the per-phase
 * summary and the series `/metrics` ended with, then stops everything (or keeps the service up
 * with `DEMO_HOLD=1`).
 *
 * Environment: `DEMO_PHASE_SECONDS` (`5`, or `healthy=4,brownout=6,outage=8,recovery=8`),
 * `DEMO_RATE` (requests per second, default 25), `DEMO_HOLD=1`, and the service's own `PORT`,
 * `HOST`, `DATABASE_URL`, `UPSTREAM_URL`.
 */
import { LiveView, metricsSummary } from './liveView.js';
import { defaultPhases, type PhaseReport, phaseDurationsFromEnv, runPhases } from './phases.js';
import type { ExampleService, ExampleServiceOptions } from './service.js';
import { DEFAULT_SETTINGS, serviceOptionsFromEnv } from './settings.js';

type Output = Pick<NodeJS.WriteStream, 'write'> & { isTTY?: boolean };

export interface DemoOptions {
  /** Shown in the title: `Express`, `Koa`. */
  readonly framework: string;
  /** Starts the service (after the telemetry: see `service.ts`). */
  readonly start: (options: ExampleServiceOptions) => Promise<ExampleService>;
  /** Where spans go, for the intro (`Telemetry.traces`). */
  readonly traces?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly out?: Output;
}

export interface DemoResult {
  readonly service: ExampleService;
  readonly reports: readonly PhaseReport[];
}

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const env = options.env ?? process.env;
  const out = options.out ?? process.stdout;
  const say = (line = '') => out.write(`${line}\n`);
  if (out === process.stdout) {
    // `pnpm demo | head`: a closed pipe ends the demo quietly instead of with a stack trace.
    process.stdout.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(0);
      throw error;
    });
  }
  const phases = defaultPhases(phaseDurationsFromEnv(env));
  const rate = Number(env.DEMO_RATE?.trim() || 25);
  if (!(rate > 0 && rate <= 1_000)) throw new TypeError('DEMO_RATE must be in (0, 1000]');
  const total = phases.reduce((sum, p) => sum + p.durationMs, 0);

  // Breakers must get the chance to close within the recovery phase, however short it is.
  const recoveryMs = phases.at(-1)?.durationMs ?? 10_000;
  const clamp = (v: number, lo: number, hi: number) => Math.round(Math.min(hi, Math.max(lo, v)));
  const service = await options.start({
    ...serviceOptionsFromEnv(env),
    settings: {
      upstream: {
        halfOpenAfterMs: clamp(recoveryMs / 3, 250, DEFAULT_SETTINGS.upstream.halfOpenAfterMs),
      },
      routeBreaker: {
        halfOpenAfterMs: clamp(recoveryMs / 5, 200, DEFAULT_SETTINGS.routeBreaker.halfOpenAfterMs),
      },
    },
  });

  const s = service.settings;
  const article = /^[aeiou]/i.test(options.framework) ? 'an' : 'a';
  const intro = [
    `otel-resilience demo: ${article} ${options.framework} service using every adapter of the suite`,
    `  service   ${service.url}  GET /orders/:id: a ${service.database.system} read + an upstream call;`,
    '                                    POST /orders: a transaction',
    `  upstream  ${service.upstream.url}  a flaky price service; POST /__control switches its faults`,
    `  database  ${service.database.system} ${service.database.location}`,
    `  scrape    ${service.url}/metrics  (also /health, /status; traces: ${(options.traces ?? ['none']).join(', ')})`,
    `  policies  requests: ${s.requestTimeoutMs} ms limit, shed beyond ${s.shedding.maxConcurrent} running + ${s.shedding.maxQueued} queued;`,
    `            upstream: ${s.upstream.maxAttempts} attempts of ${s.upstream.attemptTimeoutMs} ms, a breaker open for ${s.upstream.halfOpenAfterMs} ms, then a fallback;`,
    `            retries share a budget of ${s.retryBudget.percentCanRetry * 100}% of calls + ${s.retryBudget.minRetriesPerSecond}/s`,
    `  load      ${rate} requests/s, 70% reads, 30% writes, through ${phases.length} phases: ${Math.round(total / 1_000)} s`,
    '',
    '  Each second: the requests answered and how - ok; degr (without a price: the upstream call',
    '  failed and the fallback answered); shed (503, load shedding); t/out (503, time limit); open',
    '  (503, the route breaker); fail (other errors) - then upstream calls, attempts its open breaker',
    '  refused, retries, requests the upstream received per call, DB transaction re-runs, the retry',
    '  budget left and every breaker state (from /metrics and /status, as Prometheus would see them).',
  ];
  for (const line of intro) say(line);

  // A few requests before the clock starts: the first ones pay for JIT compilation and new
  // connections, which belongs to no phase.
  for (let i = 0; i < 5; i++) {
    await fetch(`${service.url}/orders/${i + 1}`).then((res) => res.arrayBuffer());
    await fetch(`${service.url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sku: 'A1', quantity: 1 }),
    }).then((res) => res.arrayBuffer());
  }

  const view = new LiveView({
    serviceUrl: service.url,
    upstream: service.upstream.control,
    phases,
    ratePerSecond: rate,
    out,
  });
  let reports: PhaseReport[];
  await view.start();
  try {
    reports = await runPhases({
      serviceUrl: service.url,
      upstream: service.upstream.control,
      phases,
      ratePerSecond: rate,
      database: service.database,
      onPhaseStart: (phase, index) => view.phaseStarted(phase, index),
      onResult: (result) => view.record(result),
    });
  } finally {
    await view.stop();
  }

  say();
  say(
    'Summary per phase (requests as the clients saw them; upstream calls and retries from /metrics):',
  );
  say(view.summary(reports));
  say();
  say(`What ${service.url}/metrics ends with (the series Prometheus scrapes):`);
  for (const line of metricsSummary(view.metrics)) say(`  ${line}`);
  say();
  const hold = env.DEMO_HOLD === '1' || env.DEMO_HOLD === 'true';
  if (hold) {
    say(`The service keeps running: scrape ${service.url}/metrics, look at ${service.url}/status,`);
    say(
      `switch the upstream's faults with curl -X POST ${service.upstream.url}/__control -d '{"failureRate":1}'.`,
    );
    say('Ctrl-C stops it.');
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
  } else {
    say(
      `Scrape /metrics while it runs: the demo served it at ${service.url}/metrics. To keep a service up,`,
    );
    say(
      `run DEMO_HOLD=1 with the demo, or the service alone (prints its URL; PORT=9464 to fix the port).`,
    );
  }
  await service.close();
  return { service, reports };
}
