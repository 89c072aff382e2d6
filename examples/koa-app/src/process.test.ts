/*
 * The service and the demo as processes, the way the README, the root `pnpm demo` and an
 * end-to-end test run them; and the traces of a request, which only a process shows (vitest loads
 * Koa by file path, which the instrumentations' ESM loader hook does not recognise).
 */

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describeServiceProcesses } from 'examples-shared/processSuites';
import { expect, it } from 'vitest';

describeServiceProcesses({
  here: fileURLToPath(new URL('..', import.meta.url)),
  framework: 'Koa',
  extraMainTests: ({ here, childEnv, track }) => {
    it('traces a read through the http, Koa, engine and Knex instrumentations (OTEL_TRACES_CONSOLE=1)', async () => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
        cwd: here,
        env: childEnv({ PORT: '0', OTEL_TRACES_CONSOLE: '1' }),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      track(child);
      let stdout = '';
      child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
      });
      while (!/^listening (\S+)$/m.test(stdout)) {
        if (child.exitCode !== null) throw new Error(`exited early:\n${stdout}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const url = /^listening (\S+)$/m.exec(stdout)?.[1] as string;
      expect((await fetch(`${url}/orders/4`)).status).toBe(200);
      child.kill('SIGTERM'); // flushes the batched spans
      const [code] = await once(child, 'exit');
      expect(code).toBe(0);
      const names = new Set([...stdout.matchAll(/^ {2}name: '([^']*)'/gm)].map((m) => m[1]));
      const scopes = new Set(
        [...stdout.matchAll(/name: '(@opentelemetry\/instrumentation-\w+)'/g)].map((m) => m[1]),
      );
      // The server span is named after the route template; the Koa instrumentation (through the
      // ESM loader hook: the app imports Koa) adds the router's and the middleware's spans.
      expect(scopes).toEqual(
        new Set([
          '@opentelemetry/instrumentation-http',
          '@opentelemetry/instrumentation-koa',
          '@opentelemetry/instrumentation-knex',
        ]),
      );
      for (const name of [
        'GET /orders/:id',
        'router - /orders/:id',
        'resilience orders-db',
        'resilience price',
        'resilience upstream',
        'resilience upstream attempt',
      ]) {
        expect(names, name).toContain(name);
      }
    }, 15_000);
  },
});
