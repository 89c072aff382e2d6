/**
 * Every panel query and variable selector, template variables substituted, checked by Prometheus's
 * own `promtool`: it parses (`promtool check rules`), and it answers at least one series on the
 * series a service using every adapter exports (`promtool test rules` on the model in
 * testScenario.ts). Skipped, with one line on stderr, when promtool is not installed — except in
 * CI (`CI=true`), where it must be. `PROMTOOL` names another binary.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROMETHEUS_NAMINGS } from 'otel-resilience';
import { describe, expect, it } from 'vitest';
import {
  buildAllDashboards,
  buildDashboards,
  listAnnotationQueries,
  listPanelQueries,
  listVariableQueries,
  substituteVariables,
  variableDefaults,
} from './index.js';
import { scenarioSeries } from './testScenario.js';

const PROMTOOL = process.env.PROMTOOL ?? 'promtool';
const available = spawnSync(PROMTOOL, ['--version'], { encoding: 'utf8' }).status === 0;
const required = process.env.CI === 'true';
if (!available && !required) {
  console.warn(`promtool not found (${PROMTOOL}): skipping the PromQL checks of the dashboards`);
}

/** One query of a dashboard, variables substituted (every variable "All"). */
interface Checked {
  readonly where: string;
  readonly expr: string;
}

function substitutedQueries(dashboards: ReturnType<typeof buildAllDashboards>): Checked[] {
  const checked: Checked[] = [];
  for (const { dashboard } of dashboards) {
    const values = variableDefaults(dashboard);
    for (const q of listPanelQueries(dashboard)) {
      checked.push({
        where: `${q.dashboardUid} / ${q.panelTitle} / ${q.refId}`,
        expr: substituteVariables(q.expr, values, { rateInterval: '1m', range: '5m' }),
      });
    }
    for (const a of listAnnotationQueries(dashboard)) {
      checked.push({
        where: `${a.dashboardUid} / annotation ${a.name}`,
        expr: substituteVariables(a.expr, values, { rateInterval: '1m', interval: '15s' }),
      });
    }
    for (const v of listVariableQueries(dashboard)) {
      checked.push({
        where: `${v.dashboardUid} / $${v.name}`,
        expr: substituteVariables(v.selector, values),
      });
    }
  }
  return checked;
}

/** Runs promtool with `args` in a temporary directory holding `files` (JSON is YAML). */
function promtool(files: Readonly<Record<string, unknown>>, args: readonly string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'otel-resilience-dashboards-'));
  try {
    for (const [name, contents] of Object.entries(files)) {
      writeFileSync(join(dir, name), JSON.stringify(contents, null, 2));
    }
    const result = spawnSync(PROMTOOL, args, { encoding: 'utf8', cwd: dir });
    return { status: result.status, output: `${result.stdout}\n${result.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function needPromtool(): void {
  if (!available) {
    expect.fail(`promtool (${PROMTOOL}) is required when CI=true, to check the dashboards' PromQL`);
  }
}

describe.skipIf(!available && !required)('PromQL of every dashboard (promtool)', () => {
  it('parses', () => {
    needPromtool();
    const queries = substitutedQueries(buildAllDashboards());
    const rules = queries.map((q, i) => ({ record: `dashboard:query:${i}`, expr: q.expr }));
    const result = promtool({ 'queries.yml': { groups: [{ name: 'dashboards', rules }] } }, [
      'check',
      'rules',
      'queries.yml',
    ]);
    expect(result.status, result.output).toBe(0);
    expect(result.output).toContain(`SUCCESS: ${rules.length} rules found`);
  });

  it.each(PROMETHEUS_NAMINGS)(
    'answers at least one series per query on a service using every adapter (%s)',
    (naming) => {
      needPromtool();
      const queries = substitutedQueries(buildDashboards({ naming }).map((d) => d));
      // One alert per query that fires when the query answers nothing.
      const rules = queries.map((q, i) => ({ alert: `Q${i}`, expr: `absent(${q.expr})` }));
      const test = {
        rule_files: ['queries.yml'],
        evaluation_interval: '15s',
        tests: [
          {
            interval: '15s',
            input_series: scenarioSeries(naming),
            alert_rule_test: rules.map((r) => ({
              eval_time: '10m',
              alertname: r.alert,
              exp_alerts: [],
            })),
          },
        ],
      };
      const result = promtool(
        { 'queries.yml': { groups: [{ name: 'dashboards', rules }] }, 'test.yml': test },
        ['test', 'rules', 'test.yml'],
      );
      const empty = [...result.output.matchAll(/alertname: Q(\d+)/g)]
        .map((m) => queries[Number(m[1])])
        .map((q) => `${q?.where}: ${q?.expr}`);
      expect([...new Set(empty)], result.output).toEqual([]);
      expect(result.status, result.output).toBe(0);
    },
  );

  it('computes what the panels say on that service', () => {
    needPromtool();
    const all = buildDashboards();
    const panel = (uid: string, title: string) => {
      const found = listPanelQueries(all.map((d) => d.dashboard)).find(
        (q) => q.dashboardUid === uid && q.panelTitle === title && !q.instant,
      );
      if (found === undefined) throw new Error(`no panel ${title} in ${uid}`);
      const values = variableDefaults(all.find((d) => d.dashboard.uid === uid)!.dashboard);
      return substituteVariables(found.expr, values, { rateInterval: '1m', range: '5m' });
    };
    const round = (v: number) => Math.floor(v * 1000 + 0.5) / 1000;
    /** Expected samples: labels → value, rounded like PromQL's round(x, 0.001). */
    const cases: [string, string, Record<string, number>][] = [
      // Counts per 15 s step in testScenario.ts: prices 26 calls (2 failed), 32 attempts; axios
      // 13 requests (1 failed), 16 attempts; orders-db 43 queries (1 failed), 46 attempts;
      // orders-db.transaction 6 calls (none failed), 7 attempts.
      [
        'otel-resilience-overview',
        'Failure rate by pipeline',
        {
          '{resilience_name="prices"}': 2 / 26,
          '{resilience_name="axios"}': 1 / 13,
          '{resilience_name="orders-db"}': 1 / 43,
          '{resilience_name="orders-db.transaction"}': 0,
        },
      ],
      [
        'otel-resilience-overview',
        'Attempts per call by pipeline',
        {
          '{resilience_name="prices"}': 32 / 26,
          '{resilience_name="axios"}': 16 / 13,
          '{resilience_name="orders-db"}': 46 / 43,
          '{resilience_name="orders-db.transaction"}': 7 / 6,
        },
      ],
      [
        'otel-resilience-http-client',
        'Resends by host',
        { '{server_address="api.example.com"}': 3 / 15 },
      ],
      [
        'otel-resilience-database',
        'Retried failures by error code',
        {
          '{resilience_name="orders-db", error_type="SQLITE_BUSY"}': 3 / 15,
          '{resilience_name="orders-db.transaction", error_type="40001"}': 1 / 15,
        },
      ],
      [
        'otel-resilience-database',
        'Transactions re-run',
        { '{resilience_name="orders-db.transaction"}': 1 / 15 },
      ],
      [
        'otel-resilience-breakers',
        'State per breaker',
        {
          '{resilience_name="prices"}': 2,
          '{resilience_name="axios", server_address="api.example.com"}': 0,
          '{resilience_name="http.server /orders/:id"}': 0,
          '{resilience_name="orders-db"}': 0,
        },
      ],
      ['otel-resilience-database', 'Busiest pool', { '{}': 0.8 }],
      [
        'otel-resilience-http-server',
        'Server error rate by route',
        { '{http_route="/orders/:id"}': 3 / 33 },
      ],
    ];
    const test = {
      rule_files: [],
      evaluation_interval: '15s',
      tests: [
        {
          interval: '15s',
          input_series: scenarioSeries('otel-js'),
          promql_expr_test: cases.map(([uid, title, expected]) => ({
            expr: `round(${panel(uid, title)}, 0.001)`,
            eval_time: '10m',
            exp_samples: Object.entries(expected).map(([labels, value]) => ({
              labels,
              value: round(value),
            })),
          })),
        },
      ],
    };
    const result = promtool({ 'test.yml': test }, ['test', 'rules', 'test.yml']);
    expect(result.status, result.output).toBe(0);
  });
});
