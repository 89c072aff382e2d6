/*
 * Test support: the example service and the demo as processes, the way the README, the root
 * `pnpm demo` and an end-to-end test run them — one suite for the Express and the Koa example.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { afterEach, expect, it } from 'vitest';
import { MetricsSnapshot } from './prometheusText.js';
import { describeWithSqlite } from './sqliteSuite.js';

/** What a framework's own extra tests of `src/main.ts` get. */
export interface MainTestKit {
  /** The example's directory (where `src/main.ts` is). */
  readonly here: string;
  /** A child's environment: no inherited OTel, demo or database settings, plus `extra`. */
  readonly childEnv: (extra: Record<string, string>) => NodeJS.ProcessEnv;
  /** Kills `child` after the test if it is still running. */
  readonly track: (child: ChildProcess) => void;
}

/**
 * The `src/main.ts` and `src/demo.ts` suites of the example in `here`, served by `framework`.
 * `extraMainTests` adds the framework's own tests of `src/main.ts`.
 */
export function describeServiceProcesses(options: {
  readonly here: string;
  readonly framework: 'Express' | 'Koa';
  readonly extraMainTests?: (kit: MainTestKit) => void;
}): void {
  const { here, framework, extraMainTests } = options;
  const article = framework === 'Express' ? 'an' : 'a';
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

    extraMainTests?.({ here, childEnv, track: (child) => children.push(child) });
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
        `otel-resilience demo: ${article} ${framework} service`,
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
}
