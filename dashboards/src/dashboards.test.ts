import { readFileSync } from 'node:fs';
import type { Panel, RowPanel } from '@grafana/grafana-foundation-sdk/dashboard';
import { defaultDashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import {
  ATTR_DB_OPERATION_NAME,
  METRICS,
  type MetricKey,
  PROMETHEUS_NAMINGS,
  type PrometheusNaming,
  prometheusLabel,
  prometheusNames,
} from 'otel-resilience';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from './config.js';
import { drift, existingFiles, expectedFiles, GENERATE_COMMAND, GENERATED_DIR } from './files.js';
import {
  buildAllDashboards,
  buildDashboards,
  DASHBOARDS,
  type ImportableDashboard,
  labelNames,
  listAnnotationQueries,
  listPanelQueries,
  listVariableQueries,
  metricNames,
  panelsOf,
} from './index.js';
import { ATTR_SERVER_ADDRESS } from './promql.js';

const generated = buildAllDashboards();
const dashboards = generated.map((g) => g.dashboard);

/** Every Prometheus series name of the catalogue under `naming`. */
function catalogueSeries(naming: PrometheusNaming): Set<string> {
  const names = new Set<string>();
  for (const key of Object.keys(METRICS) as MetricKey[]) {
    const series = prometheusNames(key, naming);
    for (const name of [series.name, series.bucket, series.sum, series.count]) {
      if (name !== undefined) names.add(name);
    }
  }
  return names;
}

/**
 * Labels a query may use: the catalogue's attributes, the constant attributes adapters put on
 * their policies' series (the Axios interceptor's server.address, the Knex plugin's
 * db.operation.name), the target labels Prometheus adds, and `le` of histogram buckets.
 */
const KNOWN_LABELS = new Set([
  ...Object.values(METRICS).flatMap((def) => def.attributes.map(prometheusLabel)),
  prometheusLabel(ATTR_SERVER_ADDRESS),
  prometheusLabel(ATTR_DB_OPERATION_NAME),
  'job',
  'instance',
  'le',
]);

function queriesOf(dashboard: ImportableDashboard): string[] {
  return [
    ...listPanelQueries(dashboard).map((q) => q.expr),
    ...listVariableQueries(dashboard).map((v) => v.selector),
    ...listAnnotationQueries(dashboard).map((a) => a.expr),
  ];
}

function contentPanels(dashboard: ImportableDashboard): Panel[] {
  return panelsOf(dashboard).filter((p): p is Panel => p.type !== 'row');
}

describe('generated files', () => {
  it('are committed exactly as the generator makes them', () => {
    const expected = expectedFiles();
    const problems = drift(expected, existingFiles(GENERATED_DIR, expected));
    expect(
      problems,
      `The committed dashboards differ from the generator. Run: ${GENERATE_COMMAND}`,
    ).toEqual([]);
  });

  it('cover every dashboard for both naming schemes', () => {
    expect(generated.map((g) => g.path)).toEqual(
      PROMETHEUS_NAMINGS.flatMap((naming) => DASHBOARDS.map((d) => `${naming}/${d.slug}.json`)),
    );
  });
});

describe.each(generated.map((g) => [g.path, g] as const))(
  '%s',
  (_path, { naming, slug, dashboard }) => {
    it('has the import fields: __inputs, __requires, a datasource variable', () => {
      expect(dashboard.__inputs).toEqual([
        expect.objectContaining({
          name: 'DS_PROMETHEUS',
          type: 'datasource',
          pluginId: 'prometheus',
        }),
      ]);
      const requires = dashboard.__requires.map((r) => `${r.type}:${r.id}`);
      expect(requires).toContain('grafana:grafana');
      expect(requires).toContain('datasource:prometheus');
      for (const panel of contentPanels(dashboard))
        expect(requires).toContain(`panel:${panel.type}`);
      const datasource = dashboard.templating?.list?.[0];
      expect(datasource).toMatchObject({
        type: 'datasource',
        name: 'datasource',
        query: 'prometheus',
        current: { value: `\${DS_PROMETHEUS}` },
      });
    });

    it("has a stable uid within 40 characters, no id and the SDK's schemaVersion", () => {
      const suffix = naming === 'collector' ? '-collector' : '';
      expect(dashboard.uid).toBe(`otel-resilience-${slug}${suffix}`);
      expect(dashboard.uid?.length).toBeLessThanOrEqual(40);
      expect(dashboard.id).toBeNull();
      expect(dashboard.schemaVersion).toBe(defaultDashboard().schemaVersion);
      expect(dashboard.tags).toEqual(['otel-resilience', naming]);
    });

    it('numbers its panels uniquely and lays them out on the 24-column grid', () => {
      const panels = panelsOf(dashboard);
      const ids = panels.map((p) => p.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids).toEqual(ids.map((_, i) => i + 1));
      for (const panel of panels) {
        const { x = 0, w = 0 } = (panel as Panel | RowPanel).gridPos ?? {};
        expect(x + w, panel.title).toBeLessThanOrEqual(24);
      }
    });

    it('queries only through the datasource variable, with a title and a description', () => {
      for (const panel of contentPanels(dashboard)) {
        expect(panel.title, 'title').toBeTruthy();
        expect(panel.description, `description of ${panel.title}`).toBeTruthy();
        expect(panel.datasource).toEqual({ type: 'prometheus', uid: `\${datasource}` });
        expect(panel.targets?.length, `targets of ${panel.title}`).toBeGreaterThan(0);
        for (const target of (panel.targets ?? []) as { datasource?: unknown }[]) {
          expect(target.datasource).toEqual({ type: 'prometheus', uid: `\${datasource}` });
        }
      }
      for (const variable of dashboard.templating?.list ?? []) {
        if (variable.type === 'query') {
          expect(variable.datasource).toEqual({ type: 'prometheus', uid: `\${datasource}` });
        }
      }
    });

    it('uses only metric names of the catalogue under its naming scheme', () => {
      const known = catalogueSeries(naming);
      for (const query of queriesOf(dashboard)) {
        const names = metricNames(query);
        expect(names.length, query).toBeGreaterThan(0);
        for (const name of names) expect(known, `${name} in ${query}`).toContain(name);
      }
    });

    it('uses only labels the instruments, adapters or Prometheus put on the series', () => {
      for (const query of queriesOf(dashboard)) {
        for (const label of labelNames(query)) {
          expect(KNOWN_LABELS, `${label} in ${query}`).toContain(label);
        }
      }
    });

    it('defines every variable its queries use, and uses every variable it defines', () => {
      const defined = (dashboard.templating?.list ?? []).map((v) => v.name);
      const queries = queriesOf(dashboard).join('\n');
      const used = new Set(
        [...queries.matchAll(/\$([a-zA-Z_][a-zA-Z0-9_]*)/g)]
          .map((m) => m[1] ?? '')
          .filter((name) => !name.startsWith('__')),
      );
      for (const name of used) expect(defined).toContain(name);
      for (const name of defined) {
        if (name !== 'datasource') expect(used, `$${name} unused`).toContain(name);
      }
    });
  },
);

describe('all dashboards', () => {
  it('have unique uids and titles across both naming schemes', () => {
    const uids = dashboards.map((d) => d.uid);
    const titles = dashboards.map((d) => d.title);
    expect(new Set(uids).size).toBe(uids.length);
    expect(new Set(titles).size).toBe(titles.length);
  });

  it('offer the template variables of their subject', () => {
    const variables = Object.fromEntries(
      buildDashboards().map((g) => [
        g.slug,
        (g.dashboard.templating?.list ?? []).map((v) => v.name),
      ]),
    );
    const common = ['datasource', 'job', 'instance'];
    expect(variables).toEqual({
      overview: [...common, 'pipeline'],
      breakers: [...common, 'breaker'],
      'http-server': [...common, 'route'],
      'http-client': [...common, 'client', 'host'],
      database: [...common, 'db', 'pool'],
    });
  });

  it('use unit-suffixed names only with the collector naming', () => {
    const used = (naming: PrometheusNaming) =>
      generated
        .filter((g) => g.naming === naming)
        .flatMap((g) => queriesOf(g.dashboard).flatMap(metricNames));
    expect(used('otel-js').filter((name) => name.includes('_seconds'))).toEqual([]);
    expect(used('collector')).toEqual(
      expect.arrayContaining([
        'resilience_call_duration_seconds_bucket',
        'resilience_attempt_duration_seconds_count',
        'http_server_request_duration_seconds_bucket',
        'db_client_connection_wait_time_seconds_bucket',
      ]),
    );
    expect(used('collector')).not.toContain('resilience_call_duration_bucket');
  });

  it('add the extra selector to every series selector, variables included', () => {
    for (const { dashboard } of buildDashboards({ selector: 'cluster="prod"' })) {
      for (const query of queriesOf(dashboard)) {
        const selectors = [...query.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})?/g)]
          .filter((m) => metricNames(query).includes(m[0].replace(/\{.*$/, '')))
          .map((m) => m[1] ?? '');
        expect(selectors.length, query).toBeGreaterThan(0);
        for (const selector of selectors) expect(selector, query).toContain('cluster="prod"');
      }
    }
  });
});

describe('failure-rate thresholds', () => {
  const failureRatePanels = (list: readonly ImportableDashboard[]) =>
    list.flatMap((d) =>
      contentPanels(d)
        .filter((p) => /failure rate|server error/i.test(p.title ?? ''))
        .map((p) => ({ dashboard: d.title, panel: p })),
    );

  it('are drawn at 20% and 50% on the failure-rate panels', () => {
    const panels = failureRatePanels(dashboards);
    const titles = panels.map((p) => `${p.dashboard}: ${p.panel.title}`);
    expect(titles).toContain('otel-resilience / Overview: Failure rate by pipeline');
    expect(titles).toContain('otel-resilience / Overview: Failure rate');
    for (const { panel } of panels) {
      expect(panel.fieldConfig?.defaults?.thresholds?.steps, panel.title).toEqual([
        { value: null, color: 'green' },
        { value: 0.2, color: 'orange' },
        { value: 0.5, color: 'red' },
      ]);
      expect(panel.fieldConfig?.defaults?.unit).toBe('percentunit');
      if (panel.type === 'timeseries') {
        // Drawn on the graph, not only used to colour it.
        expect(panel.fieldConfig?.defaults?.custom?.thresholdsStyle?.mode).toBe('dashed+area');
      }
    }
  });

  it('follow the config', () => {
    const custom = buildDashboards({ failureRate: { warning: 0.1, critical: 0.3 } }).map(
      (g) => g.dashboard,
    );
    for (const { panel } of failureRatePanels(custom)) {
      expect(panel.fieldConfig?.defaults?.thresholds?.steps?.map((s) => s.value)).toEqual([
        null,
        0.1,
        0.3,
      ]);
    }
    expect(DEFAULT_CONFIG.failureRate).toEqual({ warning: 0.2, critical: 0.5 });
  });
});

describe('README', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

  it.each(buildDashboards().map((g) => [g.dashboard.title ?? '', g.dashboard] as const))(
    'lists every panel of %s',
    (title, dashboard) => {
      const heading = `### ${title.replace(/^otel-resilience \/ /, '')}\n`;
      const start = readme.indexOf(heading);
      expect(start, heading).toBeGreaterThan(0);
      const section = readme.slice(start, readme.indexOf('\n### ', start + heading.length));
      for (const panel of panelsOf(dashboard)) {
        expect(section.replace(/\s+/g, ' '), panel.title).toContain(panel.title);
      }
    },
  );
});
