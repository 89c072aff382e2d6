import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROMETHEUS_NAMINGS } from 'otel-resilience';
import { afterAll, describe, expect, it } from 'vitest';
import { type AlertsConfigInput, defineAlertsConfig } from './config.js';
import {
  LONG_TESTS_FILE,
  PACKAGE_DIR,
  RULES_FILE,
  renderFiles,
  TESTS_FILE,
  toYaml,
} from './render.js';
import { buildRules } from './rules.js';

const PROMTOOL = process.env.PROMTOOL ?? 'promtool';
const available = spawnSync(PROMTOOL, ['--version'], { stdio: 'ignore' }).status === 0;
const inCI = process.env.CI === 'true';
const INSTALL_HINT = '`apt-get install -y prometheus` (Debian/Ubuntu), or set PROMTOOL to its path';
if (!available && !inCI) {
  console.warn(
    `promtool not found: skipping the promtool rule checks and unit tests; install it with ${INSTALL_HINT}`,
  );
}

/** Runs promtool in `cwd`; resolves with its exit code and output. */
function promtool(args: string[], cwd: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(PROMTOOL, args, { cwd, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

const TIMEOUT = 180_000;
const run = available ? it.concurrent : it.skip;

describe('promtool', () => {
  if (!available && inCI) {
    it('is installed (CI=true)', () => {
      expect.fail(`promtool not found (CI=true): install it with ${INSTALL_HINT}`);
    });
  }

  const temp: string[] = [];
  afterAll(() => {
    for (const dir of temp) rmSync(dir, { recursive: true, force: true });
  });
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'resilience-alerts-'));
    temp.push(dir);
    return dir;
  };

  for (const naming of PROMETHEUS_NAMINGS) {
    const dir = join(PACKAGE_DIR, 'rules', naming);

    run(
      `check rules: rules/${naming}/${RULES_FILE}`,
      async () => {
        const { code, output } = await promtool(
          ['check', 'rules', '--lint=all', '--lint-fatal', RULES_FILE],
          dir,
        );
        expect(code, output).toBe(0);
        expect(output).toMatch(/SUCCESS: \d+ rules found/);
      },
      TIMEOUT,
    );

    run(
      `test rules: rules/${naming}/ (every alert below and above its threshold)`,
      async () => {
        const { code, output } = await promtool(
          ['test', 'rules', TESTS_FILE, LONG_TESTS_FILE],
          dir,
        );
        expect(code, output).toBe(0);
      },
      TIMEOUT,
    );
  }

  run(
    'the unit tests fail against rules with other thresholds',
    async () => {
      // The default tests run against rules generated with a warning at 40% instead of 20% and
      // a breaker alert that only counts `open`: the "fires" cases must catch both.
      const dir = tempDir();
      const rules = buildRules(
        defineAlertsConfig({
          failureRate: { warning: 0.4 },
          circuitBreakerOpen: { states: ['open'] },
        }),
      );
      writeFileSync(join(dir, RULES_FILE), toYaml(rules.file));
      const tests = renderFiles({ naming: 'otel-js' }).get(`rules/otel-js/${TESTS_FILE}`)!;
      writeFileSync(join(dir, TESTS_FILE), tests);
      const { code, output } = await promtool(['test', 'rules', TESTS_FILE], dir);
      expect(code).not.toBe(0);
      expect(output).toContain('alertname: ResilienceFailureRateWarning');
      expect(output).toContain('alertname: ResilienceCircuitBreakerOpen');
    },
    TIMEOUT,
  );

  run(
    'rules and unit tests generated from a custom config pass too',
    async () => {
      const input: AlertsConfigInput = {
        prefix: 'Acme',
        selector: 'namespace="prod"',
        groupBy: ['job', 'namespace'],
        failureRate: { warning: 0.1, critical: 0.3, warningFor: '15m', minCalls: 0 },
        circuitBreakerOpen: { for: '3m', states: ['open'] },
        dbPool: { usedRatio: 0.8, acquireTimeoutsPerSecond: 0.5 },
        retryAmplification: { attemptsPerCall: 2, minCalls: 10 },
        retryBudget: { minTokens: 5, for: '10m' },
        errorBudget: {
          sloTarget: 0.999,
          page: { windows: [{ long: '1h', short: '5m', factor: 14.4 }] },
          ticket: { for: '30m', windows: [{ long: '6h', short: '30m', factor: 3 }] },
        },
      };
      const dir = tempDir();
      const files = renderFiles({ ...input, naming: 'collector' });
      expect([...files.keys()]).not.toContain(`rules/collector/${LONG_TESTS_FILE}`);
      for (const file of [RULES_FILE, TESTS_FILE]) {
        writeFileSync(join(dir, file), files.get(`rules/collector/${file}`)!);
      }
      const check = await promtool(['check', 'rules', RULES_FILE], dir);
      expect(check.code, check.output).toBe(0);
      const test = await promtool(['test', 'rules', TESTS_FILE], dir);
      expect(test.code, test.output).toBe(0);
      expect(files.get(`rules/collector/${RULES_FILE}`)).toContain(
        'acme:call_failures:ratio_rate5m > 0.1',
      );
    },
    TIMEOUT,
  );
});

const AMTOOL = process.env.AMTOOL ?? 'amtool';
const amtoolAvailable = spawnSync(AMTOOL, ['--version'], { stdio: 'ignore' }).status === 0;
if (!amtoolAvailable) {
  console.warn(
    'amtool not found: skipping the Alertmanager example check (apt-get install -y prometheus-alertmanager)',
  );
}

describe.skipIf(!amtoolAvailable)('amtool: alertmanager.example.yaml', () => {
  const amtool = (args: string[]) =>
    spawnSync(AMTOOL, args, { cwd: PACKAGE_DIR, encoding: 'utf8' });

  it('is a valid Alertmanager configuration', () => {
    const result = amtool(['check-config', 'alertmanager.example.yaml']);
    expect(result.status, `${result.stdout}${result.stderr}`).toBe(0);
  });

  it('routes each severity to its receiver', () => {
    const route = (...labels: string[]) =>
      amtool([
        'config',
        'routes',
        'test',
        '--config.file=alertmanager.example.yaml',
        ...labels,
      ]).stdout.trim();
    for (const alert of buildRules(defineAlertsConfig()).alerts) {
      expect(route(`alertname=${alert.name}`, `severity=${alert.severity}`), alert.name).toBe(
        alert.severity === 'critical' ? 'resilience-pager' : 'resilience-tickets',
      );
    }
  });
});
