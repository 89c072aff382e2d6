/**
 * Throughput and tail latency of the adapters on their success path: bare Express/Koa against
 * the same app with the whole middleware stack (autocannon, server in its own process), and bare
 * Axios against Axios with the interceptor (closed-loop clients in this process against an
 * upstream process). Rounds alternate bare and guarded; the report quotes medians.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { Agent } from 'node:http';
import { fileURLToPath } from 'node:url';
import { metrics, trace } from '@opentelemetry/api';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import autocannon from 'autocannon';
import axios, { type AxiosInstance } from 'axios';
import { attachResilience } from 'otel-resilience-axios';
import { median } from '../harness.js';

interface Sample {
  readonly rps: number;
  readonly p99Ms: number;
}

const SERVER = fileURLToPath(new URL('./server.ts', import.meta.url));

async function startServer(variant: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', SERVER, variant], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const line = buffered.split('\n')[0];
      if (buffered.includes('\n') && line !== undefined) resolve(line.trim());
    });
    child.once('exit', (code) => reject(new Error(`server ${variant} exited with ${code}`)));
  });
  return { url, child };
}

async function cannon(url: string, seconds: number, connections: number): Promise<Sample> {
  const result = await autocannon({ url, connections, duration: seconds, pipelining: 1 });
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${url}: ${result.non2xx} non-2xx responses, ${result.errors} errors`);
  }
  return { rps: result.requests.average, p99Ms: result.latency.p99 };
}

/** Closed-loop clients: `concurrency` loops each awaiting one GET after another for `seconds`. */
async function clientLoad(
  instance: AxiosInstance,
  url: string,
  seconds: number,
  concurrency: number,
): Promise<Sample> {
  const latencies: number[] = [];
  const endAt = performance.now() + seconds * 1000;
  const loop = async () => {
    while (performance.now() < endAt) {
      const start = performance.now();
      await instance.get(url);
      latencies.push(performance.now() - start);
    }
  };
  const startedAt = performance.now();
  await Promise.all(Array.from({ length: concurrency }, loop));
  const elapsedS = (performance.now() - startedAt) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    rps: latencies.length / elapsedS,
    p99Ms: latencies[Math.ceil(latencies.length * 0.99) - 1] ?? 0,
  };
}

/** Runs the cases in a rotating order for `rounds` rounds (after one warm-up each); medians. */
async function rotate(rounds: number, cases: Array<() => Promise<Sample>>): Promise<Sample[]> {
  for (const run of cases) await run();
  const samples = cases.map(() => [] as Sample[]);
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < cases.length; k++) {
      const index = (k + round) % cases.length;
      samples[index]!.push(await cases[index]!());
    }
    process.stdout.write('.');
  }
  return samples.map((s) => ({
    rps: median(s.map((x) => x.rps)),
    p99Ms: median(s.map((x) => x.p99Ms)),
  }));
}

interface Comparison {
  readonly what: string;
  readonly bare: Sample;
  readonly guarded: Sample;
  /** The same app with only an AsyncLocalStorage scope per request. */
  readonly alsOnly?: Sample;
}

const row = ({ what, bare, guarded, alsOnly }: Comparison) => {
  const ratio = guarded.rps / bare.rps;
  const p99Delta = guarded.p99Ms - bare.p99Ms;
  const met = ratio >= 0.95 && p99Delta <= 1;
  const als = alsOnly === undefined ? '–' : `${((alsOnly.rps / bare.rps) * 100).toFixed(1)}%`;
  return `| ${what} | ${bare.rps.toFixed(0)} | ${guarded.rps.toFixed(0)} | ${(ratio * 100).toFixed(1)}% | ${als} | ${bare.p99Ms.toFixed(1)} ms | ${guarded.p99Ms.toFixed(1)} ms | ${met ? 'yes' : '**no**'} |`;
};

/** A tracer and meter provider that keep everything in memory (spans are dropped on export). */
function installSdk(): () => Promise<void> {
  const dropAll: SpanExporter = {
    export: (_spans: ReadableSpan[], done) => done({ code: 0 }),
    shutdown: async () => {},
  };
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [new BatchSpanProcessor(dropAll)],
  });
  const meterProvider = new MeterProvider({
    readers: [
      new PeriodicExportingMetricReader({
        exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
        exportIntervalMillis: 5_000,
      }),
    ],
  });
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);
  return async () => {
    trace.disable();
    metrics.disable();
    await tracerProvider.shutdown();
    await meterProvider.shutdown();
  };
}

/** The markdown section of the throughput comparisons. */
export async function throughputSection({
  rounds,
  seconds,
  connections,
}: {
  rounds: number;
  seconds: number;
  connections: number;
}): Promise<string> {
  const comparisons: Comparison[] = [];
  for (const framework of ['express', 'koa']) {
    const servers = [
      await startServer(`${framework}-bare`),
      await startServer(`${framework}-guarded`),
      await startServer(`${framework}-als`),
    ];
    try {
      const [b, g, a] = await rotate(
        rounds,
        servers.map((server) => () => cannon(`${server.url}/items/1`, seconds, connections)),
      );
      comparisons.push({
        what: `${framework === 'express' ? 'Express 5' : 'Koa 3'}: bare vs deadline + shedding + route + SDK`,
        bare: b!,
        guarded: g!,
        alsOnly: a!,
      });
    } finally {
      for (const server of servers) server.child.kill();
    }
  }

  const upstream = await startServer('upstream');
  try {
    const agent = () => new Agent({ keepAlive: true, maxSockets: connections });
    const plain = axios.create({ httpAgent: agent() });
    const withInterceptor = axios.create({ httpAgent: agent() });
    const handle = attachResilience(withInterceptor, {});
    const load = (instance: AxiosInstance) => () =>
      clientLoad(instance, `${upstream.url}/items/1`, seconds, connections);
    // Without an SDK the interceptor's own cost; with one, its spans and histograms too.
    for (const sdk of [false, true]) {
      const uninstall = sdk ? installSdk() : undefined;
      try {
        const [b, g] = await rotate(rounds, [load(plain), load(withInterceptor)]);
        comparisons.push({
          what: `Axios: bare vs interceptor (retry + host breaker + timeout), SDK ${sdk ? 'on' : 'off'}`,
          bare: b!,
          guarded: g!,
        });
      } finally {
        await uninstall?.();
      }
    }
    handle.detach();
  } finally {
    upstream.child.kill();
  }
  process.stdout.write('\n');

  return [
    '## HTTP adapters: throughput and p99 on the success path',
    '',
    `Servers: autocannon, ${connections} connections, ${seconds} s per round, ${rounds} rounds in a`,
    'rotating order (after one warm-up round each), each server in its own process; a JSON',
    'hello-world, so the fixed per-request cost is as large a share as it can be. "ALS only" is the',
    'bare app with nothing but one `AsyncLocalStorage` scope per request.',
    `Axios: ${connections} closed-loop clients in the benchmark process against a plain upstream`,
    'process. Medians of the rounds. Target: ≥ 95% of the bare requests/s and p99 within 1 ms.',
    '',
    '| comparison | bare req/s | guarded req/s | guarded / bare | ALS only / bare | bare p99 | guarded p99 | target met |',
    '|---|---:|---:|---:|---:|---:|---:|---|',
    ...comparisons.map(row),
    '',
    'Where the target is not met: on Node 20, `AsyncLocalStorage` is built on async hooks, and the',
    'first scope entered turns on a promise hook that every promise in the process then pays — the',
    '"ALS only" column. The deadline scope is what lets outbound calls see the request\'s deadline',
    'without being passed it, so the middleware cannot do without it; an app that registers the',
    "OpenTelemetry context manager (any traced app) pays it already. The rest is the middleware's",
    'own work per request: the time-limit timer entry, the `close` listener, the shedding',
    "bulkhead's admission and the route template (and, in the Axios rows, the call's pipeline, plus",
    'a call span, an attempt span and two histograms per request with the SDK on). Koa answers three times as many requests per second',
    'as Express here, so the same microseconds are a larger share of its bare cost.',
    '',
  ].join('\n');
}
