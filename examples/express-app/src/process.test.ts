/*
 * The service and the demo as processes, the way the README, the root `pnpm demo` and an
 * end-to-end test run them.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { MetricsSnapshot } from 'examples-shared/prometheusText';
import { describeWithSqlite } from 'examples-shared/sqliteSuite';
import { afterEach, expect, it } from 'vitest';

const here = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

/** The environment of a child: no inherited OTel or demo settings, not a terminal. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const key of Object.keys(env)) {
    if (key.startsWith('OTEL_') || key.startsWith('DEMO_') || key === 'DATABASE_URL') {
      if (!(key in extra)) delete env[key];
    }
  }
  return env;
}

describeWithSqlite('src/main.ts', () => {
  it('prints its URL on the first line, serves, lets the upstream be switched from outside, and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: here,
      env: childEnv({ PORT: '0' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const iterator = lines[Symbol.asyncIterator]();
    const next = async () => (await iterator.next()).value as string;
    const first = await next();
    expect(first).toMatch(/^listening http:\/\/127\.0\.0\.1:\d+$/);
    const url = first.slice('listening '.length);
    const second = await next();
    expect(second).toMatch(/^upstream http:\/\/127\.0\.0\.1:\d+ /);
    const upstream = second.split(' ')[1] as string;

    expect((await fetch(`${url}/health`)).status).toBe(200);
    const read = await fetch(`${url}/orders/1`);
    expect(await read.json()).toMatchObject({ id: 1, unitPrice: expect.any(Number) });
    const control = await fetch(`${upstream}/__control`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ failureRate: 1, status: 500, latencyMs: 0 }),
    });
    expect(control.status).toBe(200);
    const degraded = await fetch(`${url}/orders/2`);
    expect(await degraded.json()).toMatchObject({ unitPrice: null, degraded: '500' });
    const metrics = MetricsSnapshot.parse(await (await fetch(`${url}/metrics`)).text());
    expect(
      metrics.sum('resilience_call_duration_count', { resilience_name: 'upstream' }),
    ).toBeGreaterThanOrEqual(2);

    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
  }, 15_000);
});

describeWithSqlite('src/demo.ts', () => {
  it('runs the four phases with the live view in plain lines, prints the summary and exits 0', async () => {
    const started = performance.now();
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/demo.ts'], {
      cwd: here,
      env: childEnv({ DEMO_PHASE_SECONDS: '1.5' }),
      timeout: 18_000,
    });
    expect(performance.now() - started).toBeLessThan(18_000);
    for (const expected of [
      'otel-resilience demo: an Express service',
      '== healthy (1.5 s)',
      '== brownout (1.5 s)',
      '== outage (1.5 s)',
      '== recovery (1.5 s)',
      'Summary per phase',
      'resilience_retry_decisions_total{resilience_name="upstream"}',
      '/metrics',
    ]) {
      expect(stdout).toContain(expected);
    }
    // One line per second, without terminal escapes (stdout is a pipe here).
    expect(stdout).not.toContain('\x1b[');
    expect(stdout).toMatch(/^\s+\d+s\s+\d+\s+\d+/m);
    // Nearly every request of the healthy phase was answered in full (a slow first attempt on a
    // loaded machine may still be retried: the row's other columns are not checked).
    const healthy = /^ {2}healthy\s+(\d+)\s+(\d+)\s/m.exec(stdout);
    expect(Number(healthy?.[2])).toBeGreaterThanOrEqual(0.9 * Number(healthy?.[1]));
  }, 20_000);
});
