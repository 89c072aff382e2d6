/**
 * Throughput and tail latency of the adapters on their success path: bare Express/Koa against
 * the same app with the whole middleware stack (autocannon, server in its own process), and bare
 * Axios against Axios with the interceptor (closed-loop clients in this process against an
 * upstream process). Rounds alternate bare and guarded; the report quotes medians.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { Agent } from 'node:http';
import { connect, type Socket } from 'node:net';
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
import { ResilienceMetricProducer } from 'otel-resilience';
import { attachResilience } from 'otel-resilience-axios';
import { median } from '../harness.js';

interface Sample {
  readonly rps: number;
  readonly p99Ms: number;
  /** CPU time (user + system, all threads) of the measured side per request, µs. */
  readonly cpuUs: number;
}

interface BenchServer {
  readonly url: string;
  /** Answers the server process's CPU time so far, in µs. */
  readonly meterUrl: string;
  readonly child: ChildProcess;
}

const SERVER = fileURLToPath(new URL('./server.ts', import.meta.url));

/**
 * Node binaries the servers are also measured on, besides this one: `BENCH_SERVER_NODES`, paths
 * separated by commas (e.g. Node 24's, from `npx -y -p node@24 node -p process.execPath`).
 */
const SERVER_NODES: readonly string[] = [
  process.execPath,
  ...(process.env.BENCH_SERVER_NODES ?? '')
    .split(',')
    .map((path) => path.trim())
    .filter((path) => path !== ''),
];

function versionOf(node: string): string {
  try {
    return execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
  } catch (error) {
    throw new Error(`BENCH_SERVER_NODES: ${node} does not run (${String(error)})`);
  }
}

async function startServer(variant: string, node = process.execPath): Promise<BenchServer> {
  const child = spawn(node, ['--import', 'tsx', SERVER, variant], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const first = buffered.split('\n')[0];
      if (buffered.includes('\n') && first !== undefined) resolve(first.trim());
    });
    child.once('exit', (code) => reject(new Error(`server ${variant} exited with ${code}`)));
  });
  const [url, meterUrl] = line.split(' ');
  if (url === undefined || meterUrl === undefined) throw new Error(`server ${variant}: ${line}`);
  return { url, meterUrl, child };
}

const cpuOf = async (server: BenchServer): Promise<number> =>
  Number(await (await fetch(server.meterUrl)).text());

/** One autocannon round against `server`, as fast as it answers. */
async function cannon(server: BenchServer, seconds: number, connections: number): Promise<Sample> {
  const url = `${server.url}/items/1`;
  const cpuBefore = await cpuOf(server);
  const result = await autocannon({ url, connections, duration: seconds, pipelining: 1 });
  const cpuUs = (await cpuOf(server)) - cpuBefore;
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${url}: ${result.non2xx} non-2xx responses, ${result.errors} errors`);
  }
  return {
    rps: result.requests.average,
    p99Ms: result.latency.p99,
    cpuUs: cpuUs / result.requests.total,
  };
}

/** The 99th percentile of `latencies` (ms; sorts them in place), 0 when there are none. */
function p99Of(latencies: number[]): number {
  latencies.sort((a, b) => a - b);
  return latencies[Math.ceil(latencies.length * 0.99) - 1] ?? 0;
}

/**
 * An open-loop round: `rate` GETs per second for `seconds`, each sent at its own time (evenly
 * spaced, in the batches a 1 ms timer allows) over `connections` keep-alive connections, each
 * latency counted from the time its request was due — a server that falls behind is not excused
 * by the client waiting for it (autocannon's `overallRate` sends each second's share in a burst,
 * which measures the burst). The client is a few lines over raw sockets, so that it stays far
 * from saturating its own core (Node's `http.request` costs tens of µs per request here).
 */
async function steadyLoad(
  server: BenchServer,
  seconds: number,
  connections: number,
  rate: number,
): Promise<Sample> {
  const { hostname, port } = new URL(server.url);
  const requestBytes = Buffer.from(`GET /items/1 HTTP/1.1\r\nHost: ${hostname}:${port}\r\n\r\n`);
  const total = Math.round(rate * seconds);
  const latencies: number[] = [];
  const waiting: number[] = []; // due times of requests no connection was free for
  const idle: RawConnection[] = [];
  let failure: Error | undefined;
  let finish = () => {};
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const onAnswer = (connection: RawConnection, dueAt: number, ok: boolean) => {
    latencies.push(performance.now() - dueAt);
    if (!ok) failure ??= new Error(`${server.url}: a response other than 200 at ${rate}/s`);
    if (latencies.length === total) finish();
    const next = waiting.shift();
    if (next === undefined) idle.push(connection);
    else connection.send(next);
  };
  const opened = await Promise.all(
    Array.from({ length: connections }, () =>
      RawConnection.open(Number(port), hostname, requestBytes, onAnswer, (error) => {
        failure ??= error;
        finish();
      }),
    ),
  );
  idle.push(...opened);
  const cpuBefore = await cpuOf(server);
  const startedAt = performance.now();
  let sent = 0;
  const tick = () => {
    const due = Math.min(total, Math.floor(((performance.now() - startedAt) / 1000) * rate) + 1);
    for (; sent < due; sent++) {
      const dueAt = startedAt + (sent / rate) * 1000;
      const connection = idle.pop();
      if (connection === undefined) waiting.push(dueAt);
      else connection.send(dueAt);
    }
    if (sent < total && failure === undefined) setTimeout(tick, 1);
  };
  tick();
  await finished;
  const elapsedS = (performance.now() - startedAt) / 1000;
  const cpuUs = (await cpuOf(server)) - cpuBefore;
  for (const connection of opened) connection.close();
  if (failure !== undefined) throw failure;
  return {
    rps: total / elapsedS,
    p99Ms: p99Of(latencies),
    cpuUs: cpuUs / total,
  };
}

/**
 * One keep-alive HTTP/1.1 connection sending the same GET, one at a time; a response ends after
 * its headers and `Content-Length` bytes (the benchmark servers always send one).
 */
class RawConnection {
  private buffered: Buffer = Buffer.alloc(0);
  private dueAt = 0;

  private constructor(
    private readonly socket: Socket,
    private readonly requestBytes: Buffer,
    private readonly onAnswer: (connection: RawConnection, dueAt: number, ok: boolean) => void,
    private readonly onError: (error: Error) => void,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
  }

  static open(
    port: number,
    host: string,
    requestBytes: Buffer,
    onAnswer: (connection: RawConnection, dueAt: number, ok: boolean) => void,
    onError: (error: Error) => void,
  ): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, host, () => resolve(connection));
      const connection = new RawConnection(socket, requestBytes, onAnswer, onError);
      socket.once('error', (error) => {
        reject(error);
        onError(error);
      });
    });
  }

  send(dueAt: number): void {
    this.dueAt = dueAt;
    this.socket.write(this.requestBytes);
  }

  close(): void {
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const headerEnd = this.buffered.indexOf('\r\n\r\n');
    if (headerEnd < 0) return;
    const head = this.buffered.toString('latin1', 0, headerEnd);
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? Number.NaN);
    if (!Number.isInteger(length)) {
      this.socket.destroy();
      this.onError(new Error(`a response without Content-Length: ${head}`));
      return;
    }
    if (this.buffered.length < headerEnd + 4 + length) return;
    this.buffered = this.buffered.subarray(headerEnd + 4 + length);
    this.onAnswer(this, this.dueAt, head.startsWith('HTTP/1.1 200'));
  }
}

/** Closed-loop clients: `concurrency` loops each awaiting one GET after another for `seconds`. */
async function clientLoad(
  instance: AxiosInstance,
  url: string,
  seconds: number,
  concurrency: number,
): Promise<Sample> {
  const latencies: number[] = [];
  const cpuBefore = process.cpuUsage();
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
  const cpu = process.cpuUsage(cpuBefore);
  return {
    rps: latencies.length / elapsedS,
    p99Ms: p99Of(latencies),
    cpuUs: (cpu.user + cpu.system) / latencies.length,
  };
}

/**
 * Runs the cases in a rotating order for `rounds` rounds (after one warm-up each); each case's
 * samples, round by round.
 */
async function rotate(rounds: number, cases: Array<() => Promise<Sample>>): Promise<Sample[][]> {
  for (const run of cases) await run();
  const samples = cases.map(() => [] as Sample[]);
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < cases.length; k++) {
      const index = (k + round) % cases.length;
      samples[index]!.push(await cases[index]!());
    }
    process.stdout.write('.');
  }
  return samples;
}

/** The targets: this share of the bare requests/s, and the p99 at most this much higher. */
const TARGET_RATIO = 0.95;
const TARGET_P99_DIFFERENCE_MS = 1;

/** Share of the bare server's requests/s offered to every server for the latency rounds. */
const AT_RATE_SHARE = 0.5;

/** Each figure's median over the rounds. */
const medianOf = (samples: readonly Sample[]): Sample => ({
  rps: median(samples.map((x) => x.rps)),
  p99Ms: median(samples.map((x) => x.p99Ms)),
  cpuUs: median(samples.map((x) => x.cpuUs)),
});

/**
 * Median over the rounds of `of(side, bare)` computed within each round: both were measured
 * seconds apart, so the VM's drift between rounds (large here) cancels out of the comparison.
 */
const pairedMedian = (
  side: readonly Sample[],
  bare: readonly Sample[],
  of: (side: Sample, bare: Sample) => number,
): number => median(side.map((sample, round) => of(sample, bare[round]!)));

interface Comparison {
  readonly what: string;
  readonly bare: readonly Sample[];
  readonly guarded: readonly Sample[];
  /** The same app with only an AsyncLocalStorage scope per request. */
  readonly alsOnly?: readonly Sample[];
  /** Both sides at a fixed offered rate below the bare side's capacity (servers only). */
  readonly atRate?: {
    readonly rps: number;
    readonly bare: readonly Sample[];
    readonly guarded: readonly Sample[];
  };
}

const rpsRatio = (side: Sample, bare: Sample) => side.rps / bare.rps;

const p99Difference = (side: Sample, bare: Sample) => side.p99Ms - bare.p99Ms;
const signed = (ms: number) => `${ms >= 0 ? '+' : ''}${ms.toFixed(1)} ms`;

const row = ({ what, bare, guarded, alsOnly, atRate }: Comparison) => {
  const ratio = pairedMedian(guarded, bare, rpsRatio);
  const p99Delta = pairedMedian(guarded, bare, p99Difference);
  // Judged as the issue measures it: autocannon's requests/s and p99, flat out.
  const met = ratio >= TARGET_RATIO && p99Delta <= TARGET_P99_DIFFERENCE_MS;
  const atRateCells =
    atRate === undefined
      ? '– | –'
      : `${atRate.rps.toFixed(0)}: ${medianOf(atRate.bare).p99Ms.toFixed(1)} → ${medianOf(atRate.guarded).p99Ms.toFixed(1)} ms | ${signed(pairedMedian(atRate.guarded, atRate.bare, p99Difference))}`;
  const alsRatio = alsOnly === undefined ? undefined : pairedMedian(alsOnly, bare, rpsRatio);
  const als = alsRatio === undefined ? '–' : `${(alsRatio * 100).toFixed(1)}%`;
  // Any deadline scope costs at least what one AsyncLocalStorage scope costs.
  const verdict = met
    ? 'yes'
    : alsRatio !== undefined && alsRatio < TARGET_RATIO
      ? `**no**: ALS alone is below ${TARGET_RATIO * 100}%`
      : '**no**';
  const cpu = (samples: readonly Sample[]) => `${medianOf(samples).cpuUs.toFixed(1)} µs`;
  const alsCpu = alsOnly === undefined ? '–' : cpu(alsOnly);
  const [b, g] = [medianOf(bare), medianOf(guarded)];
  return `| ${what} | ${b.rps.toFixed(0)} | ${g.rps.toFixed(0)} | ${(ratio * 100).toFixed(1)}% | ${als} | ${b.p99Ms.toFixed(1)} ms | ${g.p99Ms.toFixed(1)} ms | ${signed(p99Delta)} | ${atRateCells} | ${cpu(bare)} | ${alsCpu} | ${cpu(guarded)} | ${verdict} |`;
};

/**
 * A tracer and meter provider that keep everything in memory (spans are dropped on export); with
 * `producer`, the histograms go through a ResilienceMetricProducer on the reader.
 */
function installSdk(producer: boolean): () => Promise<void> {
  const dropAll: SpanExporter = {
    export: (_spans: ReadableSpan[], done) => done({ code: 0 }),
    shutdown: async () => {},
  };
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [new BatchSpanProcessor(dropAll)],
  });
  const metricProducer = producer ? new ResilienceMetricProducer() : undefined;
  const meterProvider = new MeterProvider({
    readers: [
      new PeriodicExportingMetricReader({
        exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
        exportIntervalMillis: 5_000,
        ...(metricProducer === undefined ? {} : { metricProducers: [metricProducer] }),
      }),
    ],
  });
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);
  return async () => {
    trace.disable();
    metrics.disable();
    await metricProducer?.shutdown();
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
  for (const node of SERVER_NODES) {
    const version = versionOf(node);
    for (const framework of ['express', 'koa']) {
      const variants = ['bare', 'als', 'guarded', 'producer'];
      const servers = [];
      for (const variant of variants) {
        servers.push(await startServer(`${framework}-${variant}`, node));
      }
      try {
        const [bare, alsOnly, guarded, producer] = await rotate(
          rounds,
          servers.map((server) => () => cannon(server, seconds, connections)),
        );
        // Latency with headroom: every server offered half of what the bare one managed.
        const rate = Math.round(medianOf(bare!).rps * AT_RATE_SHARE);
        const [bareAtRate, , guardedAtRate, producerAtRate] = await rotate(
          rounds,
          servers.map((server) => () => steadyLoad(server, seconds, connections, rate)),
        );
        const name = `${framework === 'express' ? 'Express 5' : 'Koa 3'} (Node ${version})`;
        const stack = 'deadline + shedding + route + `http.server.request.duration`';
        comparisons.push(
          {
            what: `${name}: ${stack}, SDK histogram`,
            bare: bare!,
            guarded: guarded!,
            alsOnly,
            atRate: { rps: rate, bare: bareAtRate!, guarded: guardedAtRate! },
          },
          {
            what: `${name}: ${stack}, ResilienceMetricProducer`,
            bare: bare!,
            guarded: producer!,
            alsOnly,
            atRate: { rps: rate, bare: bareAtRate!, guarded: producerAtRate! },
          },
        );
      } finally {
        for (const server of servers) server.child.kill();
      }
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
    const modes = [
      ['off', undefined],
      ['on (spans + SDK histograms)', false],
      ['on (spans + ResilienceMetricProducer)', true],
    ] as const;
    for (const [label, producer] of modes) {
      const uninstall = producer === undefined ? undefined : installSdk(producer);
      try {
        const [b, g] = await rotate(rounds, [load(plain), load(withInterceptor)]);
        comparisons.push({
          what: `Axios: interceptor (retry + host breaker + timeout), SDK ${label}`,
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
    `Servers on other Node versions: \`BENCH_SERVER_NODES=<node binary>[,…]\` (this run: ${SERVER_NODES.length === 1 ? 'none' : SERVER_NODES.slice(1).map(versionOf).join(', ')}).`,
    `Axios: ${connections} closed-loop clients in the benchmark process against a plain upstream`,
    'process. Requests/s, p99 and CPU: medians of the rounds. "guarded / bare", "ALS only / bare"',
    'and "p99 difference": medians of the ratios (differences) taken within each round, where both',
    "sides ran seconds apart — the VM's speed drifts by ±20% between rounds here, which the",
    'medians of the two sides apart would keep. Target: ≥ 95% of the bare requests/s and p99',
    'within 1 ms, judged as the issue measures them: autocannon, flat out. Flat out, the p99 is',
    'mostly the wait behind the other connections (Little: 50 connections / requests/s), so it',
    'moves with requests/s; the servers are therefore also offered',
    `${AT_RATE_SHARE * 100}% of the bare server's requests/s, evenly spaced (open loop, each latency`,
    'counted from the time its request was due; the same number of rounds). That p99 is shown, not',
    "judged: on this VM it is set by the machine's stalls — a stall delays every request due during",
    'it and the backlog after it, so the bare p99 at half load is often higher than flat out and',
    'varies several-fold between rounds. Axios: closed-loop clients only.',
    '',
    '| comparison | bare req/s | guarded req/s | guarded / bare | ALS only / bare | bare p99 | guarded p99 | p99 difference | at half load (req/s): p99 bare → guarded | p99 difference at half load | CPU per request, bare | ALS only | guarded | target met |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ...comparisons.map(row),
    '',
    "CPU per request: the measured side's CPU time (the server process, or the benchmark process",
    'for Axios; all threads, GC included) over the requests it served in the round.',
    '',
    'What costs what, and where the target is missed:',
    '',
    '- Koa and Express on Node 20: `AsyncLocalStorage` is built on async hooks there, and the first',
    '  scope entered turns on promise hooks that every promise in the process then pays (the',
    '  "ALS only" columns; Koa makes several promises per request, Express almost none). Where ALS',
    '  alone is below 95% ("ALS alone is below 95%" in the last column) no deadline propagation can',
    "  meet the target: the deadline scope is what lets outbound calls see the request's deadline",
    '  without being passed it, which the issue asks for, so the middleware keeps it. A second ALS',
    '  scope per request costs nothing measurable beyond the first (Node 20, Koa, scratch A/B: 89.8%',
    '  one, 90.2% two), so an app that already registers the OpenTelemetry context manager pays the',
    '  hooks once, not twice; from Node 24 ALS no longer uses async hooks. What the middleware adds',
    '  beyond it is the difference of the last two CPU columns: the time-limit timer entries (app',
    '  and route limit), the `close` listener, the shedding slot, the route template, one promise',
    "  racing the handler (Koa; returning the handler's own promise instead measured no",
    '  different) and the duration histogram — through the SDK a `record()` hashes the attribute set',
    '  on every request; through `ResilienceMetricProducer` it is a bucket scan. For Koa on Node 24',
    "  that is 1.5–2.5 µs per request, against a hello-world of 17–40 µs (the VM's speed varies that",
    '  much between runs): 5–10% of a request that does nothing, well under 1% of one that waits a',
    '  millisecond for a database.',
    '- Express: the route follower learns the route template the moment a route matches, mounts',
    "  included, by making `req.baseUrl` and `req.route` accessors. They sit on the app's request",
    '  prototype (`app.request`), installed once: turning the `baseUrl` data property a request',
    '  object already owns into an accessor switched V8 to slow dictionary properties for that',
    '  request, which every later property access by Express and the handler paid (Node 24: 68 µs',
    '  of CPU per request instead of 45 µs in an earlier run). Express 4 assigns `req.baseUrl`',
    '  before it sets the prototype, so there the accessors are still per request.',
    '- Axios with an SDK: every request gets a call span and an attempt span, and creating and',
    '  ending two SDK spans (ids, clock readings, attribute checks) costs more than everything else',
    '  the interceptor does. Without an SDK it adds its pipeline, the host lookup and one',
    '  signal-like object per attempt: a real `AbortSignal` on `config.signal` alone costs Axios',
    "  ≈ 30 µs per request here (a scratch wrapper that only sets one), which is why Axios's own",
    '  adapters get the lighter object. Scratch A/Bs (SDK off, ± 3 µs): wrapping the adapter ≈ 3 µs,',
    '  the host lookup and request checks ≈ 4 µs, the retry + breaker + timeout pipeline ≈ 10–15 µs.',
    '  Against a stub adapter in one process the whole interceptor costs ≈ 3.5 µs, and Axios itself',
    '  ≈ 20 µs instead of ≈ 180 µs: on this VM code that runs between socket system calls runs',
    '  several times slower than the same code in a loop (a larger young generation did not change',
    '  the difference, so it is not the garbage collector).',
    '- Where the CPU goes: in a CPU profile of the Express 5 server on Node 24 under the same load',
    "  (scratch, 8 s), the code of this suite's packages runs 0.54 µs per request (self time) and",
    '  AsyncLocalStorage 0.10 µs, while the whole process spent ≈ 6 µs more per request than the bare',
    "  server's — most of the difference inside the kernel's `writev`, which both servers call once",
    '  per request, with one `read` (strace: the same system calls, the same number). On this VM a',
    '  system call costs tens of µs and varies with what the process touched before it, so',
    '  requests/s ratios of a hello-world here measure that more than the code around it, and they',
    '  move by 10–20 points between runs (Express 5 on Node 24 with the producer: 98.7% in the',
    '  previous full run, 70.8% in this one; the code between them differs by one property read at',
    "  the response's end, which a side-by-side A/B measured as no different).",
    '- Koa answers more than twice as many requests per second as Express on Node 20, so the same',
    '  microseconds are a larger share of its bare cost; on Node 24 the two are close (17 and 23 µs',
    '  of CPU per request in this run), and a microsecond is 4–6% of either.',
    '',
  ].join('\n');
}
