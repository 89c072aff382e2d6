import { describe, expect, it } from 'vitest';
import {
  ALL,
  buildAllDashboards,
  labelNames,
  listAnnotationQueries,
  listPanelQueries,
  listVariableQueries,
  metricNames,
  panelsOf,
  substituteVariables,
  variableDefaults,
} from './index.js';

const dashboards = buildAllDashboards().map((g) => g.dashboard);
const overview = dashboards[0]!;

describe('listPanelQueries', () => {
  it('lists every query of every panel with its dashboard and panel', () => {
    const queries = listPanelQueries(dashboards);
    const targets = dashboards.flatMap((d) =>
      panelsOf(d).flatMap((p) => ('targets' in p ? (p.targets ?? []) : [])),
    );
    expect(queries).toHaveLength(targets.length);
    expect(queries).toContainEqual(
      expect.objectContaining({
        dashboardUid: 'otel-resilience-overview',
        dashboardTitle: 'otel-resilience / Overview',
        panelTitle: 'Failure rate by pipeline',
        refId: 'A',
        instant: false,
        expr: expect.stringContaining('resilience_outcome="failure"'),
      }),
    );
    expect(queries.filter((q) => q.instant).map((q) => q.panelTitle)).toContain('Failure rate');
    for (const query of queries) {
      expect(query.panelId).toBeGreaterThan(0);
      expect(query.panelTitle).not.toBe('');
    }
  });

  it('accepts one dashboard', () => {
    expect(listPanelQueries(overview).every((q) => q.dashboardUid === overview.uid)).toBe(true);
  });
});

describe('listVariableQueries', () => {
  it('lists the label_values() variables with their selector and label', () => {
    expect(listVariableQueries(overview)).toEqual([
      expect.objectContaining({
        name: 'job',
        selector: 'resilience_call_duration_count',
        label: 'job',
      }),
      expect.objectContaining({
        name: 'instance',
        selector: 'resilience_call_duration_count{job=~"$job"}',
        label: 'instance',
      }),
      expect.objectContaining({
        name: 'pipeline',
        selector: 'resilience_call_duration_count{job=~"$job", instance=~"$instance"}',
        label: 'resilience_name',
        query:
          'label_values(resilience_call_duration_count{job=~"$job", instance=~"$instance"}, resilience_name)',
      }),
    ]);
  });
});

describe('listAnnotationQueries', () => {
  it('lists the Prometheus annotations (breakers opened), not the built-in one', () => {
    expect(listAnnotationQueries(overview)).toEqual([
      expect.objectContaining({
        dashboardUid: 'otel-resilience-overview',
        name: 'Circuit breakers opened',
        expr: expect.stringContaining('resilience_circuit_breaker_state="open"'),
      }),
    ]);
  });
});

describe('substituteVariables', () => {
  const expr = `sum(rate(x{job=~"$job", host=~"\${host}"}[$__rate_interval]))`;

  it('replaces one value, regex-escaped like Grafana does', () => {
    expect(substituteVariables(expr, { job: 'shop', host: 'api.example.com' })).toBe(
      'sum(rate(x{job=~"shop", host=~"api\\\\.example\\\\.com"}[1m]))',
    );
  });

  it('replaces several values as an alternation and All as .*', () => {
    expect(substituteVariables(expr, { job: ['a', 'b+c'], host: ALL })).toBe(
      'sum(rate(x{job=~"(a|b\\\\+c)", host=~".*"}[1m]))',
    );
    expect(substituteVariables(expr, { job: [ALL], host: 'h' }, { allValue: '.+' })).toBe(
      'sum(rate(x{job=~".+", host=~"h"}[1m]))',
    );
  });

  it(`supports the \${var:format} and [[var]] forms`, () => {
    const values = { v: ['a.b', 'c'] };
    expect(substituteVariables(`\${v:regex}`, values)).toBe('(a\\\\.b|c)');
    expect(substituteVariables(`\${v:pipe}`, values)).toBe('a.b|c');
    expect(substituteVariables(`\${v:raw}`, values)).toBe('a.b,c');
    expect(substituteVariables('[[v]]', values)).toBe('(a\\\\.b|c)');
    expect(() => substituteVariables(`\${v:json}`, values)).toThrow(/unsupported format "json"/);
  });

  it('escapes quotes and backslashes so that the PromQL string stays valid', () => {
    expect(substituteVariables('"$v"', { v: 'a"b\\c' })).toBe('"a\\"b\\\\\\\\c"');
  });

  it('replaces the built-in interval and range variables', () => {
    const options = { rateInterval: '2m', interval: '30s', range: '6h' };
    expect(
      substituteVariables(
        `[$__rate_interval] [$__interval] $__interval_ms [$__range] $__range_s $__range_ms [\${__range}]`,
        {},
        options,
      ),
    ).toBe('[2m] [30s] 30000 [6h] 21600 21600000 [6h]');
  });

  it('names a variable it has no value for', () => {
    expect(() => substituteVariables(expr, { job: 'a' })).toThrow(
      /no value given for template variable \$host/,
    );
    expect(() => substituteVariables(expr, { job: [], host: 'h' })).toThrow(/\$job/);
  });

  it('leaves no variable in any dashboard query given every variable', () => {
    for (const dashboard of dashboards) {
      const values = { ...variableDefaults(dashboard), job: 'express-app' };
      for (const { expr } of listPanelQueries(dashboard)) {
        const substituted = substituteVariables(expr, values);
        expect(substituted).not.toContain('$');
        expect(substituted).toContain('job=~"express-app"');
      }
      for (const { selector } of listVariableQueries(dashboard)) {
        expect(substituteVariables(selector, values)).not.toContain('$');
      }
    }
  });
});

describe('metricNames and labelNames', () => {
  it('find the series and labels of an expression', () => {
    const expr =
      'histogram_quantile(0.95, sum by (le, resilience_name) (rate(resilience_call_duration_bucket{job=~"$job", x="a b(c)"}[$__rate_interval]))) / ignoring(foo) (a_total or b * 0) > bool 1e3';
    expect(metricNames(expr)).toEqual(['a_total', 'b', 'resilience_call_duration_bucket']);
    expect(labelNames(expr)).toEqual(['foo', 'job', 'le', 'resilience_name', 'x']);
  });
});
