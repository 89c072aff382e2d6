import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROMETHEUS_NAMINGS } from 'otel-resilience';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { defineAlertsConfig } from './config.js';
import {
  GENERATE_COMMAND,
  LONG_TESTS_FILE,
  PACKAGE_DIR,
  RULES_FILE,
  renderCommittedFiles,
  TESTS_FILE,
} from './render.js';
import { type AlertingRule, buildRules, type RuleFile } from './rules.js';
import type { PromtoolTestFile } from './unitTests.js';

const committed = renderCommittedFiles();
const read = (path: string) => readFileSync(join(PACKAGE_DIR, path), 'utf8');

describe('generated files', () => {
  it.each([...committed.keys()])('%s is committed and up to date', (path) => {
    const onDisk = existsSync(join(PACKAGE_DIR, path)) ? read(path) : undefined;
    if (onDisk !== committed.get(path)) {
      expect.fail(
        `alerts/${path} is out of date with alerts/src (config, rules or unit tests). Run \`${GENERATE_COMMAND}\` and commit the result.`,
      );
    }
  });

  it('leaves no stale generated file behind', () => {
    for (const naming of readdirSync(join(PACKAGE_DIR, 'rules'))) {
      for (const file of readdirSync(join(PACKAGE_DIR, 'rules', naming))) {
        expect([...committed.keys()], `alerts/rules/${naming}/${file}`).toContain(
          `rules/${naming}/${file}`,
        );
      }
    }
  });
});

describe.each(PROMETHEUS_NAMINGS)('promtool unit tests, %s naming', (naming) => {
  const rules = parse(read(`rules/${naming}/${RULES_FILE}`)) as RuleFile;
  const alerts = rules.groups
    .flatMap((g) => g.rules)
    .filter((r): r is AlertingRule => 'alert' in r);
  const recordings = rules.groups
    .flatMap((g) => g.rules)
    .flatMap((r) => ('record' in r ? [r.record] : []));
  const tests = [TESTS_FILE, LONG_TESTS_FILE].flatMap(
    (file) => (parse(read(`rules/${naming}/${file}`)) as PromtoolTestFile).tests,
  );
  const alertTests = tests.flatMap((t) => t.alert_rule_test ?? []);

  it.each(alerts.map((a) => a.alert))(
    '%s has a case where it stays silent and one where it fires',
    (name) => {
      const mine = alertTests.filter((t) => t.alertname === name);
      expect(
        mine.some((t) => t.exp_alerts.length === 0),
        'silent case',
      ).toBe(true);
      expect(
        mine.some((t) => t.exp_alerts.length > 0),
        'firing case',
      ).toBe(true);
      // Each silent case is named for the threshold it stays under.
      const silent = tests.filter((t) =>
        (t.alert_rule_test ?? []).some((a) => a.alertname === name && a.exp_alerts.length === 0),
      );
      expect(silent.some((t) => /silent/.test(t.name))).toBe(true);
    },
  );

  it.each(recordings)('recording rule %s has a case', (record) => {
    const exprs = tests.flatMap((t) => t.promql_expr_test ?? []).map((t) => t.expr);
    expect(exprs.some((e) => e.includes(`(${record},`) || e === record)).toBe(true);
  });

  it(`uses the ${naming} series names in its inputs`, () => {
    const series = tests.flatMap((t) => t.input_series.map((s) => s.series));
    if (naming === 'collector') {
      expect(series.some((s) => s.startsWith('resilience_call_duration_seconds_count{'))).toBe(
        true,
      );
      expect(series.some((s) => s.startsWith('resilience_call_duration_count{'))).toBe(false);
    } else {
      expect(series.some((s) => s.startsWith('resilience_call_duration_count{'))).toBe(true);
      expect(series.every((s) => s.includes('otel_scope_name="otel-resilience"'))).toBe(true);
    }
  });
});

describe('RUNBOOK.md', () => {
  const runbook = read('RUNBOOK.md');
  const { alerts } = buildRules(defineAlertsConfig());

  it.each(alerts.map((a) => [a.name, a] as const))(
    'has the section %s links to, saying what it means, how to confirm and what to do',
    (_, alert) => {
      const anchor = `<a id="${alert.id}"></a>`;
      expect(alert.runbookUrl.endsWith(`#${alert.id}`)).toBe(true);
      const start = runbook.indexOf(anchor);
      expect(start, `${anchor} in RUNBOOK.md`).toBeGreaterThanOrEqual(0);
      const next = runbook.indexOf('<a id="', start + anchor.length);
      const section = runbook.slice(start, next < 0 ? undefined : next);
      expect(section).toMatch(new RegExp(`^${anchor}\\n## ${alert.name}\\n`));
      expect(section).toContain('**What it means.**');
      expect(section).toContain('**Confirm.**');
      expect(section).toContain('```promql');
      expect(section).toContain('**What to do.**');
    },
  );

  it('has no section for an alert that does not exist', () => {
    const ids = [...runbook.matchAll(/<a id="([^"]+)"><\/a>\n## /g)].map((m) => m[1]);
    expect(ids.sort()).toEqual(alerts.map((a) => a.id).sort());
  });
});

describe('alertmanager.example.yaml', () => {
  const example = parse(read('alertmanager.example.yaml')) as {
    route: {
      receiver: string;
      routes: { receiver: string; matchers: string[]; repeat_interval: string }[];
    };
    inhibit_rules: { source_matchers: string[]; target_matchers: string[] }[];
    receivers: { name: string }[];
  };
  const { alerts } = buildRules(defineAlertsConfig());

  it('routes each severity to a receiver with its own repeat interval', () => {
    const receivers = example.receivers.map((r) => r.name);
    expect(receivers).toContain(example.route.receiver);
    const bySeverity = new Map(
      example.route.routes.map((r) => [r.matchers.find((m) => m.startsWith('severity='))!, r]),
    );
    for (const severity of new Set(alerts.map((a) => a.severity))) {
      const route = bySeverity.get(`severity="${severity}"`);
      expect(route, severity).toBeDefined();
      expect(receivers).toContain(route?.receiver);
    }
    expect(bySeverity.get('severity="critical"')?.repeat_interval).toBe('1h');
  });

  it('inhibits only alerts that exist', () => {
    const names = new Set(alerts.map((a) => a.name));
    for (const rule of example.inhibit_rules) {
      for (const m of [...rule.source_matchers, ...rule.target_matchers]) {
        expect(names).toContain(/^alertname="(.+)"$/.exec(m)?.[1]);
      }
    }
  });
});
