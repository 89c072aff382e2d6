import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../..', import.meta.url));

describe('the demo', () => {
  it('walks through every phase and shows the breaker, retries, shedding and the batch', async () => {
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'examples/basic/src/main.ts'],
      {
        cwd: root,
        timeout: 60_000,
      },
    );
    for (const expected of [
      '== healthy',
      '== brownout',
      '== outage',
      '== recovery',
      'breaker: closed -> open',
      'breaker: open -> half_open',
      'breaker: half_open -> closed',
      'shed with BulkheadRejectedError',
      'resilience.circuit_breaker.transitions',
    ]) {
      expect(stdout).toContain(expected);
    }
    expect(stdout).toMatch(/8 served, 12 shed/);
    expect(stdout).toMatch(
      /8 succeeded, 2 failed: item 3 \(data, 1 attempt\), item 7 \(data, 1 attempt\)/,
    );
  }, 90_000);
});

describe('the root README quick start', () => {
  it('is this example file verbatim, so it compiles and type-checks with the package', async () => {
    const { readFile } = await import('node:fs/promises');
    const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8');
    const source = await readFile(new URL('./quickStart.ts', import.meta.url), 'utf8');
    expect(readme).toContain(`\`\`\`ts\n${source}\`\`\``);
  });
});
