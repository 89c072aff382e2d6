import {
  AnnotationQueryBuilder,
  type Dashboard,
  DashboardBuilder,
  DashboardCursorSync,
  DashboardLinkBuilder,
  DashboardLinkType,
  DatasourceVariableBuilder,
  defaultDashboard,
  type Panel,
  QueryVariableBuilder,
  RowBuilder,
  type RowPanel,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import type { MetricKey, PrometheusNaming } from 'otel-resilience';
import type { DashboardConfig } from './config.js';
import { type AnyPanel, DATASOURCE, DATASOURCE_VARIABLE } from './panels.js';
import { eq, isVar, LABEL, Promql, type SeriesPart, sumBy } from './promql.js';

/** The `schemaVersion` of every generated dashboard: the SDK's current one. */
export const SCHEMA_VERSION: number = defaultDashboard().schemaVersion;

/** The Grafana version the dashboards are made for (`__requires`); the SDK targets Grafana 12. */
export const GRAFANA_VERSION = '12.0.0';

/** A multi-value template variable whose values are a label's values on one instrument. */
export interface VariableSpec {
  /** Variable name, used as `$name` in the queries. */
  readonly name: string;
  readonly label: string;
  readonly description: string;
  /** The instrument whose series list the values. */
  readonly metric: MetricKey;
  /** Which series of a histogram. Default `count`. */
  readonly part?: SeriesPart;
  /** The label whose values the variable offers. */
  readonly valuesOf: string;
  /** Extra matchers for the series listing the values (may use the variables defined before). */
  readonly matchers?: readonly string[];
}

/** A row of panels. */
export interface RowSpec {
  readonly title: string;
  readonly panels: readonly AnyPanel[];
}

/** What a dashboard module describes; {@link buildDashboard} turns it into importable JSON. */
export interface DashboardSpec {
  /** File name and uid suffix: `overview` → `overview.json`, uid `otel-resilience-overview`. */
  readonly slug: string;
  readonly title: string;
  readonly description: string;
  /**
   * The instrument (and matchers) whose series list the `job` and `instance` values: the one
   * every service this dashboard is about emits.
   */
  readonly targets: { readonly metric: MetricKey; readonly matchers?: readonly string[] };
  /** Variables after `datasource`, `job` and `instance`. */
  readonly variables: readonly VariableSpec[];
  /** The panels, given the query builder with the dashboard's common matchers. */
  readonly rows: (q: Promql, config: DashboardConfig) => readonly RowSpec[];
}

/** One entry of `__inputs`: what Grafana's import screen asks for. */
export interface ImportInput {
  readonly name: string;
  readonly label: string;
  readonly description: string;
  readonly type: 'datasource';
  readonly pluginId: 'prometheus';
  readonly pluginName: 'Prometheus';
}

/** One entry of `__requires`. */
export interface ImportRequirement {
  readonly type: 'grafana' | 'datasource' | 'panel';
  readonly id: string;
  readonly name: string;
  readonly version: string;
}

/** A dashboard as committed: Grafana's export-for-sharing shape, importable as is. */
export type ImportableDashboard = {
  readonly __inputs: readonly ImportInput[];
  readonly __elements: Record<string, never>;
  readonly __requires: readonly ImportRequirement[];
} & Dashboard;

const PANEL_NAMES: Readonly<Record<string, string>> = {
  'state-timeline': 'State timeline',
  stat: 'Stat',
  table: 'Table',
  timeseries: 'Time series',
};

/** The uid of dashboard `slug` under `config` (the `collector` variant suffixed). */
export function dashboardUid(config: DashboardConfig, slug: string): string {
  return `${config.uidPrefix}-${slug}${config.naming === 'collector' ? '-collector' : ''}`;
}

/** The title of a dashboard under `config`. */
export function dashboardTitle(config: DashboardConfig, title: string): string {
  return `${config.titlePrefix} / ${title}${namingSuffix(config.naming)}`;
}

function namingSuffix(naming: PrometheusNaming): string {
  return naming === 'collector' ? ' (Collector)' : '';
}

/** The config's extra selector as one matcher-list element (trailing comma and blanks removed). */
function extraSelector(config: DashboardConfig): string[] {
  const selector = config.selector.trim().replace(/,\s*$/, '');
  return selector === '' ? [] : [selector];
}

/** Builds one dashboard: variables, rows, links, import fields, panel ids. */
export function buildDashboard(config: DashboardConfig, spec: DashboardSpec): ImportableDashboard {
  const extra = extraSelector(config);
  const targetQ = new Promql(config.naming, extra);
  const jobQ = new Promql(config.naming, [...extra, isVar('job', 'job')]);
  const common = [isVar('job', 'job'), isVar('instance', 'instance'), ...extra];
  const q = new Promql(config.naming, common);

  const builder = new DashboardBuilder(dashboardTitle(config, spec.title))
    .id(null)
    .uid(dashboardUid(config, spec.slug))
    .description(spec.description)
    .tags([...config.tags, config.naming])
    .editable()
    .tooltip(DashboardCursorSync.Crosshair)
    .time({ from: `now-${config.timeRange}`, to: 'now' })
    .timezone('browser')
    .link(
      new DashboardLinkBuilder('Resilience dashboards')
        .type(DashboardLinkType.Dashboards)
        .tags([...config.tags, config.naming])
        .asDropdown(true)
        .includeVars(true)
        .keepTime(true)
        .targetBlank(false)
        .icon('external link')
        .tooltip('')
        .url(''),
    );
  if (config.refresh !== '') builder.refresh(config.refresh);
  builder.annotation(
    new AnnotationQueryBuilder()
      .name('Annotations & Alerts')
      .builtIn(1)
      .datasource({ type: 'grafana', uid: '-- Grafana --' })
      .type('dashboard')
      .enable(true)
      .hide(true)
      .iconColor('rgba(0, 211, 255, 1)'),
  );
  builder.annotation(
    new AnnotationQueryBuilder()
      .name('Circuit breakers opened')
      .datasource(DATASOURCE)
      .enable(true)
      .hide(false)
      .iconColor('red')
      .expr(breakerOpenedExpr(q))
      .step('$__interval')
      .titleFormat('Circuit breaker opened')
      .textFormat(`{{${LABEL.name}}} {{${LABEL.serverAddress}}}`),
  );

  builder.withVariable(
    new DatasourceVariableBuilder(DATASOURCE_VARIABLE)
      .label('Data source')
      .description('The Prometheus that scrapes the services.')
      .type('prometheus')
      .current({
        selected: false,
        text: `\${${config.datasourceInput}}`,
        value: `\${${config.datasourceInput}}`,
      }),
  );
  builder.withVariable(
    queryVariable(
      {
        name: 'job',
        label: 'Job (service)',
        description:
          'Prometheus scrape job of the services. With the JS exporter service.name is only on target_info, so services are selected by job and instance.',
        valuesOf: 'job',
        ...spec.targets,
      },
      targetQ,
    ),
  );
  builder.withVariable(
    queryVariable(
      {
        name: 'instance',
        label: 'Instance',
        description: 'Scraped instances (processes) of the selected jobs.',
        valuesOf: 'instance',
        ...spec.targets,
      },
      jobQ,
    ),
  );
  for (const variable of spec.variables) builder.withVariable(queryVariable(variable, q));

  for (const row of spec.rows(q, config)) {
    const rowBuilder = new RowBuilder(row.title).collapsed(false);
    for (const panel of row.panels) rowBuilder.withPanel(panel);
    builder.withRow(rowBuilder);
  }

  const dashboard = builder.build();
  assignPanelIds(dashboard);
  // The SDK's default puts links and annotation toggles in Grafana 12's controls menu; keep
  // them in the bar, where every Grafana version shows them.
  for (const link of dashboard.links ?? []) delete link.placement;
  for (const annotation of dashboard.annotations?.list ?? []) delete annotation.placement;
  // Identity first, so that the committed files read (and diff) well.
  const { id, uid, title, description, tags, schemaVersion: _sdkDefault, ...rest } = dashboard;
  return {
    __inputs: [
      {
        name: config.datasourceInput,
        label: config.datasourceLabel,
        description: 'The Prometheus datasource that scrapes the services using otel-resilience.',
        type: 'datasource',
        pluginId: 'prometheus',
        pluginName: 'Prometheus',
      },
    ],
    __elements: {},
    __requires: requirements(dashboard),
    id,
    uid,
    title,
    description,
    tags,
    // The SDK's current one: a newer SDK shows up as a diff of every file.
    schemaVersion: SCHEMA_VERSION,
    ...rest,
  };
}

/** Transitions to open of the selected services' breakers: annotated on every graph. */
export function breakerOpenedExpr(q: Promql): string {
  return `${sumBy(
    [LABEL.name, LABEL.serverAddress],
    q.increase('circuitTransitions', [eq(LABEL.state, 'open')]),
  )} > 0`;
}

function queryVariable(spec: VariableSpec, q: Promql): QueryVariableBuilder {
  const query = `label_values(${q.select(spec.metric, spec.matchers ?? [], spec.part ?? 'count')}, ${spec.valuesOf})`;
  return new QueryVariableBuilder(spec.name)
    .label(spec.label)
    .description(spec.description)
    .datasource(DATASOURCE)
    .query(query)
    .definition(query)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.*')
    .current({ selected: true, text: ['All'], value: ['$__all'] });
}

/** Every panel (rows' panels included) in layout order. */
export function panelsOf(dashboard: Pick<Dashboard, 'panels'>): (Panel | RowPanel)[] {
  const all: (Panel | RowPanel)[] = [];
  for (const panel of dashboard.panels ?? []) {
    all.push(panel);
    if (panel.type === 'row') all.push(...((panel as RowPanel).panels ?? []));
  }
  return all;
}

/** Numbers every panel and row from 1, in layout order: ids stay stable between generations. */
function assignPanelIds(dashboard: Dashboard): void {
  let id = 1;
  for (const panel of panelsOf(dashboard)) panel.id = id++;
}

function requirements(dashboard: Dashboard): ImportRequirement[] {
  const types = new Set<string>();
  for (const panel of panelsOf(dashboard)) if (panel.type !== 'row') types.add(panel.type);
  return [
    { type: 'grafana', id: 'grafana', name: 'Grafana', version: GRAFANA_VERSION },
    { type: 'datasource', id: 'prometheus', name: 'Prometheus', version: '1.0.0' },
    ...[...types].sort().map(
      (type): ImportRequirement => ({
        type: 'panel',
        id: type,
        name: PANEL_NAMES[type] ?? type,
        version: '',
      }),
    ),
  ];
}
