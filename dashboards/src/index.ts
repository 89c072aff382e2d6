import { PROMETHEUS_NAMINGS, type PrometheusNaming } from 'otel-resilience';
import { breakers } from './breakers.js';
import { type DashboardConfigInput, resolveConfig } from './config.js';
import { buildDashboard, type DashboardSpec, type ImportableDashboard } from './dashboard.js';
import { database } from './database.js';
import { httpClient } from './httpClient.js';
import { httpServer } from './httpServer.js';
import { overview } from './overview.js';

export {
  type DashboardConfig,
  type DashboardConfigInput,
  DEFAULT_CONFIG,
  resolveConfig,
} from './config.js';
export {
  dashboardUid,
  GRAFANA_VERSION,
  type ImportableDashboard,
  panelsOf,
  SCHEMA_VERSION,
} from './dashboard.js';
export {
  ALL,
  type AnnotationQuery,
  labelNames,
  listAnnotationQueries,
  listPanelQueries,
  listVariableQueries,
  metricNames,
  type PanelQuery,
  type SubstitutionOptions,
  substituteVariables,
  type VariableQuery,
  type VariableValues,
  variableDefaults,
} from './queries.js';

/** Every dashboard, in the order of the README. */
export const DASHBOARDS: readonly DashboardSpec[] = [
  overview,
  breakers,
  httpServer,
  httpClient,
  database,
];

/** One generated dashboard. */
export interface GeneratedDashboard {
  readonly naming: PrometheusNaming;
  readonly slug: string;
  /** Path under `generated/`: `<naming>/<slug>.json`. */
  readonly path: string;
  readonly dashboard: ImportableDashboard;
}

/** Every dashboard for the naming scheme of `input` (default `otel-js`). */
export function buildDashboards(input: DashboardConfigInput = {}): GeneratedDashboard[] {
  const config = resolveConfig(input);
  return DASHBOARDS.map((spec) => ({
    naming: config.naming,
    slug: spec.slug,
    path: `${config.naming}/${spec.slug}.json`,
    dashboard: buildDashboard(config, spec),
  }));
}

/**
 * Every dashboard for every naming scheme, or only for `input.naming` when it is given: what
 * `pnpm generate` writes and what is committed under `generated/`.
 */
export function buildAllDashboards(input: DashboardConfigInput = {}): GeneratedDashboard[] {
  const namings = input.naming === undefined ? PROMETHEUS_NAMINGS : [input.naming];
  return namings.flatMap((naming) => buildDashboards({ ...input, naming }));
}

/** The file contents of a dashboard: 2-space JSON with a final newline. */
export function toJson(dashboard: ImportableDashboard): string {
  return `${JSON.stringify(dashboard, null, 2)}\n`;
}
