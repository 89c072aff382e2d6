/*
 * The promise to operators, checked end to end: the example service (a real process using every
 * adapter) is scraped every second by a real Prometheus server with the generated rules loaded;
 * the load driver takes it through healthy, brownout, outage and recovery; then, through
 * Prometheus's HTTP API, (1) no alert is pending or firing while healthy, (2) the breaker-open and
 * failure-rate-critical alerts fire in the outage, (3) every query of every dashboard panel returns
 * at least one series with the template variables substituted.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { remoteUpstream } from 'examples-shared/FlakyUpstream';
import { defaultPhases, type Phase, runPhases } from 'examples-shared/phases';
import { describeWithSqlite } from 'examples-shared/sqliteSuite';
import { buildRules, defineAlertsConfig, toYaml } from 'otel-resilience-alerts';
import {
  buildDashboards,
  listPanelQueries,
  substituteVariables,
  variableDefaults,
} from 'otel-resilience-dashboards';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const EXPRESS_APP = fileURLToPath(new URL('../../examples/express-app/', import.meta.url));
const REQUIRED = process.env.CI === 'true';

/** The alerts with `for:` and windows shortened so that a test of a minute can see them fire. */
const ALERTS = defineAlertsConfig({
  naming: 'otel-js',
  scrapeInterval: '1s',
  failureRate: { window: '15s', warningFor: '15s', criticalFor: '15s' },
  circuitBreakerOpen: { for: '2s' },
});
const BREAKER_OPEN = `${ALERTS.prefix}CircuitBreakerOpen`;
const FAILURE_RATE_CRITICAL = `${ALERTS.prefix}FailureRateCritical`;

const PHASES: Record<string, Phase> = Object.fromEntries(
  defaultPhases({ healthy: 12_000, brownout: 10_000, outage: 35_000, recovery: 8_000 }).map(
    (phase) => [phase.name, phase],
  ),
);

function findOnPath(binary: string): string | undefined {
  const explicit = process.env.PROMETHEUS;
  if (explicit !== undefined) return explicit;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, binary);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}

const prometheusBinary = findOnPath('prometheus');
const missing =
  'prometheus not found: install it (`apt-get install -y prometheus`) or set PROMETHEUS';

if (prometheusBinary === undefined && !REQUIRED) console.warn(`skipped: ${missing}`);

const describeE2e =
  prometheusBinary === undefined && !REQUIRED ? describe.skip : describeWithSqlite;

describeE2e('the example service scraped by a real Prometheus with the generated rules', () => {
  let dir: string;
  let service: ChildProcess | undefined;
  let prometheus: ChildProcess | undefined;
  let serviceUrl: string;
  let upstreamUrl: string;
  let databaseFile: string;
  let prometheusUrl: string;

  beforeAll(async () => {
    if (prometheusBinary === undefined) throw new Error(`${missing}; CI requires it`);
    dir = mkdtempSync(join(tmpdir(), 'otel-resilience-e2e-'));
    ({
      child: service,
      lines: [serviceUrl, upstreamUrl, databaseFile],
    } = await startService());
    const port = await freePort();
    prometheusUrl = `http://127.0.0.1:${port}`;
    writeFileSync(join(dir, 'rules.yaml'), toYaml(buildRules(ALERTS).file));
    writeFileSync(
      join(dir, 'prometheus.yml'),
      toYaml({
        global: { scrape_interval: '1s', evaluation_interval: '1s' },
        rule_files: [join(dir, 'rules.yaml')],
        scrape_configs: [
          {
            job_name: 'express-app',
            static_configs: [{ targets: [new URL(serviceUrl).host] }],
          },
        ],
      }),
    );
    prometheus = spawn(
      prometheusBinary,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let log = '';
    prometheus.stderr?.on('data', (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-4_000);
    });
    await until(
      async () => (await fetch(`${prometheusUrl}/-/ready`).catch(() => undefined))?.ok === true,
      20_000,
      () => `Prometheus did not get ready:\n${log}`,
    );
    await until(
      async () => (await query('up{job="express-app"} == 1')).length === 1,
      15_000,
      () => 'Prometheus does not scrape the service',
    );
  }, 60_000);

  afterAll(async () => {
    await Promise.all([stop(prometheus), stop(service)]);
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  async function query(expr: string): Promise<Array<{ metric: Record<string, string> }>> {
    const url = `${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`;
    const body = (await (await fetch(url)).json()) as {
      status: string;
      error?: string;
      data?: { result: Array<{ metric: Record<string, string> }> };
    };
    if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
    return body.data?.result ?? [];
  }

  const alerts = async (state: 'firing' | 'pending' | 'any') =>
    (await query(state === 'any' ? 'ALERTS' : `ALERTS{alertstate="${state}"}`)).map(
      (series) => `${series.metric.alertname} (${series.metric.alertstate})`,
    );

  const drive = (...names: string[]) =>
    runPhases({
      serviceUrl,
      upstream: remoteUpstream(upstreamUrl),
      phases: names.map((name) => PHASES[name] as Phase),
      // The brownout's database fault, from this process: a second SQLite handle holding the
      // write lock, so the service's transactions meet SQLITE_BUSY and are re-run.
      database: { holdWriteLock: (ms) => holdWriteLock(databaseFile, ms) },
    });

  it('no alert is pending or firing while the service is healthy', async () => {
    await drive('healthy');
    expect(await alerts('any')).toEqual([]);
  }, 30_000);

  it('the breaker-open and failure-rate-critical alerts fire in the outage', async () => {
    await drive('brownout');
    const outage = drive('outage');
    const wanted = [`${BREAKER_OPEN} (firing)`, `${FAILURE_RATE_CRITICAL} (firing)`];
    let firing: string[] = [];
    await until(
      async () => {
        firing = await alerts('firing');
        return wanted.every((alert) => firing.includes(alert));
      },
      PHASES.outage?.durationMs ?? 35_000,
      () => `firing: ${firing.join(', ') || 'nothing'}; expected ${wanted.join(', ')}`,
    );
    await outage;
    await drive('recovery');
  }, 90_000);

  it('every query of every dashboard panel returns at least one series', async () => {
    const empty: string[] = [];
    let checked = 0;
    for (const { dashboard } of buildDashboards({ naming: 'otel-js' })) {
      const values = { ...variableDefaults(dashboard), job: 'express-app' };
      for (const panel of listPanelQueries(dashboard)) {
        const expr = substituteVariables(panel.expr, values, {
          rateInterval: '1m',
          interval: '15s',
          range: '3m',
        });
        checked++;
        if ((await query(expr)).length === 0) {
          empty.push(`${panel.dashboardTitle} › ${panel.panelTitle}: ${expr}`);
        }
      }
    }
    expect(empty).toEqual([]);
    expect(checked).toBeGreaterThan(50);
  }, 60_000);
});

/**
 * Starts the Express example as a process (SQLite in a temp dir); resolves with the URLs it
 * announces (service, upstream) and its database file.
 */
async function startService(): Promise<{ child: ChildProcess; lines: [string, string, string] }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: EXPRESS_APP,
    // SQLite whatever the environment says: the test injects the database fault into its file.
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATABASE_URL: '' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = await new Promise<[string, string, string]>((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new Error('the service did not start in 30 s')), 30_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const listening = /^listening (\S+)$/m.exec(buffered)?.[1];
      const upstream = /^upstream (\S+)/m.exec(buffered)?.[1];
      const database = /^database sqlite (\S+)$/m.exec(buffered)?.[1];
      if (listening !== undefined && upstream !== undefined && database !== undefined) {
        clearTimeout(timer);
        resolve([listening, upstream, database]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the service exited with ${code}`));
    });
  });
  return { child, lines };
}

/** Holds the SQLite database's write lock for `ms` through a handle of this process. */
async function holdWriteLock(file: string, ms: number): Promise<void> {
  const db = new Database(file, { timeout: 1_000 });
  try {
    db.exec('BEGIN IMMEDIATE');
    await new Promise((resolve) => setTimeout(resolve, ms));
    db.exec('COMMIT');
  } finally {
    db.close();
  }
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        resolve(typeof address === 'object' && address !== null ? address.port : 0),
      );
    });
  });
}

/** Polls `check` every 250 ms until it holds; fails after `timeoutMs` with `why()`. */
async function until(
  check: () => Promise<boolean>,
  timeoutMs: number,
  why: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(why());
}
