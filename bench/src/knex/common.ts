/**
 * Shared pieces of the Knex benchmarks: the databases, the PostgreSQL cluster control (the
 * recovery section stops and starts the local server), error signatures, and an in-process
 * OpenTelemetry capture used to read the plugin's own counters.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { metrics } from '@opentelemetry/api';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import knexFactory, { type Knex } from 'knex';

/** The PostgreSQL server: `OTEL_RESILIENCE_TEST_PG_URL`, default the local trust-auth server. */
export const PG_URL =
  process.env.OTEL_RESILIENCE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Knex's logger without warnings: every killed connection logs "Connection Error" by design. */
export const QUIET_LOG = { warn: () => {}, error: () => {}, deprecate: () => {}, debug: () => {} };

/** A PostgreSQL config whose connections carry `applicationName` (to find their backends). */
export function pgConfig(applicationName: string, pool: Knex.PoolConfig = {}): Knex.Config {
  return {
    client: 'pg',
    connection: {
      connectionString: PG_URL,
      application_name: applicationName,
      // Bounds, so that no benchmark loop can hang on a connection that never answers.
      connectionTimeoutMillis: 3_000,
      statement_timeout: 10_000,
    },
    log: QUIET_LOG,
    pool: { min: 0, max: 4, acquireTimeoutMillis: 10_000, ...pool },
  };
}

/** An in-memory SQLite database (better-sqlite3; Knex gives it a pool of one connection). */
export function sqliteConfig(): Knex.Config {
  return {
    client: 'better-sqlite3',
    connection: { filename: ':memory:' },
    log: QUIET_LOG,
    useNullAsDefault: true,
  };
}

/** An administrative connection, never the measured one. */
export function adminKnex(): Knex {
  return knexFactory(pgConfig('bench_knex_admin', { min: 0, max: 2 }));
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Version of an installed package, read from the bench's node_modules. */
export function installedVersion(name: string, fallback: string): string {
  try {
    const file = new URL(`../../node_modules/${name}/package.json`, import.meta.url);
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return fallback;
  }
}

/** `PostgreSQL 15.20`, from the server itself. */
export async function serverVersion(): Promise<string> {
  const admin = adminKnex();
  try {
    const result = (await admin.raw('show server_version')) as {
      rows: Array<{ server_version: string }>;
    };
    return `PostgreSQL ${result.rows[0]?.server_version.split(' ')[0] ?? '?'}`;
  } finally {
    await admin.destroy();
  }
}

/** `pg_ctlcluster` arguments of the local cluster, or why the server cannot be restarted here. */
export function localCluster(): { version: string; name: string } | string {
  if (!/@(127\.0\.0\.1|localhost)[:/]/.test(PG_URL)) return `server ${PG_URL} is not local`;
  if (process.getuid?.() !== 0) return 'not root: cannot run pg_ctlcluster';
  if (!existsSync('/etc/postgresql')) return 'no /etc/postgresql (pg_ctlcluster)';
  const version = readdirSync('/etc/postgresql').sort().at(-1);
  if (version === undefined) return 'no cluster in /etc/postgresql';
  return { version, name: 'main' };
}

function run(command: string, args: string[], timeoutMs: number): Promise<number> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: timeoutMs }, (error) => {
      resolve(error === null ? 0 : typeof error.code === 'number' ? error.code : 1);
    });
  });
}

/** `pg_ctlcluster <version> main <action>`; resolves with its exit code (0: done). */
export function pgCtl(action: 'start' | 'stop' | 'status'): Promise<number> {
  const cluster = localCluster();
  if (typeof cluster === 'string') return Promise.resolve(1);
  return run(
    'pg_ctlcluster',
    ['--skip-systemctl-redirect', cluster.version, cluster.name, action],
    60_000,
  );
}

/** Starts the local cluster when it is down (status exit code 3); never throws. */
export async function ensurePostgresRunning(): Promise<void> {
  if (typeof localCluster() === 'string') return;
  for (let i = 0; i < 3; i++) {
    if ((await pgCtl('status')) === 0) return;
    console.error('[knex] PostgreSQL is down: starting it');
    await pgCtl('start');
  }
}

/** Whether a fresh connection runs `select 1` now (connect timeout 1 s). */
export async function serverAnswers(): Promise<boolean> {
  const probe = knexFactory({
    client: 'pg',
    connection: { connectionString: PG_URL, connectionTimeoutMillis: 1_000 },
    log: QUIET_LOG,
    pool: { min: 0, max: 1, acquireTimeoutMillis: 2_000 },
  });
  try {
    await probe.raw('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await probe.destroy().catch(() => undefined);
  }
}

/**
 * A short, stable description of an error and its causes: name, code and message, without the
 * SQL text Knex puts in front of the driver's message.
 */
export function signatureOf(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current !== undefined && current !== null; depth++) {
    if (typeof current !== 'object') {
      parts.push(String(current));
      break;
    }
    const e = current as { name?: unknown; code?: unknown; message?: unknown; cause?: unknown };
    const name = typeof e.name === 'string' ? e.name : 'Error';
    const code = e.code === undefined ? '' : ` [${String(e.code)}]`;
    let message = typeof e.message === 'string' ? e.message : '';
    const knexPrefix = message.lastIndexOf(' - ');
    if (knexPrefix >= 0 && /^\s*(select|insert|update|delete|begin|commit)/i.test(message)) {
      message = message.slice(knexPrefix + 3);
    }
    message = message.replace(/\s+/g, ' ').slice(0, 90);
    parts.push(`${name}${code}: ${message}`);
    if (e.cause === current) break;
    current = e.cause;
  }
  return parts.join(' ← ');
}

/** Counts error signatures. */
export class ErrorTally {
  private readonly counts = new Map<string, number>();
  add(error: unknown): void {
    const key = signatureOf(error);
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }
  get total(): number {
    let n = 0;
    for (const v of this.counts.values()) n += v;
    return n;
  }
  /** `count × signature`, most frequent first. */
  top(limit = 6): Array<[string, number]> {
    return [...this.counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, limit);
  }
}

/** Counter values by metric name, then by `attribute=value` labels. */
export type CounterValues = Map<string, Map<string, number>>;

/** A MeterProvider with an in-memory reader, registered globally, to read the plugin's counters. */
export interface TelemetryTap {
  /** The counters' cumulative values now. */
  read(): Promise<CounterValues>;
  /** What was added to the counters since `baseline` (a {@link TelemetryTap.read}). */
  since(baseline: CounterValues): Promise<CounterValues>;
  shutdown(): Promise<void>;
}

/**
 * Registers a real MeterProvider (in-memory reader, cumulative) globally until `shutdown()`. No
 * tracer: spans would slow the load down. The engine aggregates its counters in process for its
 * whole life, whatever the provider, so runs are told apart by differences of readings
 * ({@link TelemetryTap.since}), with one provider for the whole section.
 */
export function telemetryTap(labelKeys: readonly string[]): TelemetryTap {
  const reader = new PeriodicExportingMetricReader({
    exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
    exportIntervalMillis: 3_600_000,
  });
  const meterProvider = new MeterProvider({ readers: [reader] });
  metrics.setGlobalMeterProvider(meterProvider);
  const label = (attributes: Record<string, unknown>) =>
    labelKeys
      .filter((k) => attributes[k] !== undefined)
      .map((k) => `${k.split('.').at(-1)}=${String(attributes[k])}`)
      .join(', ');
  const read = async (): Promise<CounterValues> => {
    const counters: CounterValues = new Map();
    const { resourceMetrics } = await reader.collect();
    for (const scope of resourceMetrics.scopeMetrics) {
      for (const metric of scope.metrics) {
        const byLabel = counters.get(metric.descriptor.name) ?? new Map<string, number>();
        for (const point of metric.dataPoints as Array<{
          attributes: Record<string, unknown>;
          value: unknown;
        }>) {
          if (typeof point.value !== 'number') continue;
          const key = label(point.attributes);
          byLabel.set(key, (byLabel.get(key) ?? 0) + point.value);
        }
        counters.set(metric.descriptor.name, byLabel);
      }
    }
    return counters;
  };
  return {
    read,
    async since(baseline) {
      const counters = await read();
      for (const [name, byLabel] of counters) {
        for (const [key, value] of byLabel) {
          byLabel.set(key, value - (baseline.get(name)?.get(key) ?? 0));
        }
      }
      return counters;
    },
    async shutdown() {
      metrics.disable();
      await meterProvider.shutdown();
    },
  };
}

/** `a: 3, b: 1` of a label map, or `—`. */
export function formatCounts(byLabel: Map<string, number> | undefined): string {
  const entries = [...(byLabel ?? new Map<string, number>()).entries()].filter(([, n]) => n > 0);
  if (entries.length === 0) return '—';
  return entries.map(([k, n]) => `${k === '' ? 'all' : k}: ${n}`).join(', ');
}
