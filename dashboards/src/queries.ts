/**
 * What an end-to-end test needs to run every query of every dashboard against a real Prometheus:
 * the queries with their dashboard and panel, the template-variable queries, and the
 * substitution of template variables the way Grafana's Prometheus datasource does it.
 */
import type { Panel, RowPanel } from '@grafana/grafana-foundation-sdk/dashboard';
import { type ImportableDashboard, panelsOf } from './dashboard.js';

/** One query of one panel. */
export interface PanelQuery {
  readonly dashboardUid: string;
  readonly dashboardTitle: string;
  readonly panelId: number;
  readonly panelTitle: string;
  /** `A`, `B`, … within the panel. */
  readonly refId: string;
  /** The PromQL, template variables not substituted. */
  readonly expr: string;
  readonly legendFormat: string | undefined;
  /** Whether Grafana runs it as an instant query (stats and tables) rather than over the range. */
  readonly instant: boolean;
}

/** One template variable whose values come from a `label_values(selector, label)` query. */
export interface VariableQuery {
  readonly dashboardUid: string;
  readonly dashboardTitle: string;
  readonly name: string;
  /** The whole query: `label_values(selector, label)`. */
  readonly query: string;
  /** Its series selector, e.g. `resilience_call_duration_count{job=~"$job"}`. */
  readonly selector: string;
  /** The label whose values it lists. */
  readonly label: string;
}

interface PromTarget {
  readonly refId?: string;
  readonly expr?: string;
  readonly legendFormat?: string;
  readonly instant?: boolean;
  readonly range?: boolean;
}

function asList(
  dashboards: ImportableDashboard | readonly ImportableDashboard[],
): readonly ImportableDashboard[] {
  return Array.isArray(dashboards) ? dashboards : [dashboards as ImportableDashboard];
}

/** Every query of every panel of `dashboards`, in layout order. */
export function listPanelQueries(
  dashboards: ImportableDashboard | readonly ImportableDashboard[],
): PanelQuery[] {
  const queries: PanelQuery[] = [];
  for (const dashboard of asList(dashboards)) {
    for (const panel of panelsOf(dashboard)) {
      if (panel.type === 'row') continue;
      for (const target of ((panel as Panel).targets ?? []) as PromTarget[]) {
        if (typeof target.expr !== 'string') continue;
        queries.push({
          dashboardUid: dashboard.uid ?? '',
          dashboardTitle: dashboard.title ?? '',
          panelId: (panel as Panel | RowPanel).id ?? 0,
          panelTitle: panel.title ?? '',
          refId: target.refId ?? '',
          expr: target.expr,
          legendFormat: target.legendFormat,
          instant: target.instant === true && target.range !== true,
        });
      }
    }
  }
  return queries;
}

/** One Prometheus annotation query of a dashboard (drawn on every graph). */
export interface AnnotationQuery {
  readonly dashboardUid: string;
  readonly dashboardTitle: string;
  readonly name: string;
  readonly expr: string;
}

/** Every Prometheus annotation query of `dashboards` (Grafana's built-in one has no expr). */
export function listAnnotationQueries(
  dashboards: ImportableDashboard | readonly ImportableDashboard[],
): AnnotationQuery[] {
  const queries: AnnotationQuery[] = [];
  for (const dashboard of asList(dashboards)) {
    for (const annotation of dashboard.annotations?.list ?? []) {
      if (typeof annotation.expr !== 'string') continue;
      queries.push({
        dashboardUid: dashboard.uid ?? '',
        dashboardTitle: dashboard.title ?? '',
        name: annotation.name,
        expr: annotation.expr,
      });
    }
  }
  return queries;
}

const LABEL_VALUES = /^\s*label_values\(\s*([\s\S]*?)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$/;

/** Every `label_values()` template variable of `dashboards`. */
export function listVariableQueries(
  dashboards: ImportableDashboard | readonly ImportableDashboard[],
): VariableQuery[] {
  const queries: VariableQuery[] = [];
  for (const dashboard of asList(dashboards)) {
    for (const variable of dashboard.templating?.list ?? []) {
      if (variable.type !== 'query') continue;
      const query =
        typeof variable.query === 'string' ? variable.query : String(variable.query?.query ?? '');
      const match = LABEL_VALUES.exec(query);
      if (match === null)
        throw new Error(`variable ${variable.name}: not label_values(): ${query}`);
      queries.push({
        dashboardUid: dashboard.uid ?? '',
        dashboardTitle: dashboard.title ?? '',
        name: variable.name,
        query,
        selector: match[1] ?? '',
        label: match[2] ?? '',
      });
    }
  }
  return queries;
}

/** The value of a multi-value variable meaning "All" (Grafana's own `$__all`). */
export const ALL = '$__all';

/** Values of template variables: one value, several, or {@link ALL}. */
export type VariableValues = Readonly<Record<string, string | readonly string[]>>;

/** {@link ALL} for every query variable of `dashboard`: spread it and override what you select. */
export function variableDefaults(dashboard: ImportableDashboard): Record<string, string> {
  const values: Record<string, string> = {};
  for (const variable of dashboard.templating?.list ?? []) {
    if (variable.type === 'query') values[variable.name] = ALL;
  }
  return values;
}

/** The built-in variables' values. */
export interface SubstitutionOptions {
  /** `$__rate_interval`. Default `'1m'` (Grafana: max(4 × scrape interval, step + scrape interval)). */
  readonly rateInterval?: string;
  /** `$__interval` (and `$__interval_ms`): the step. Default `'15s'`. */
  readonly interval?: string;
  /** `$__range` (and `$__range_s`, `$__range_ms`): the dashboard's time range. Default `'1h'`. */
  readonly range?: string;
  /**
   * What a variable's "All" stands for. Default `'.*'`: the `allValue` of every variable of these
   * dashboards.
   */
  readonly allValue?: string;
}

const VARIABLE =
  /\$\{([a-zA-Z_][a-zA-Z0-9_]*)(?::([a-zA-Z]+))?\}|\[\[([a-zA-Z_][a-zA-Z0-9_]*)(?::([a-zA-Z]+))?\]\]|\$([a-zA-Z_][a-zA-Z0-9_]*)/g;

/**
 * `expr` with every template variable replaced, as Grafana's Prometheus datasource does it for
 * the multi-value variables of these dashboards (multi-value, "All" = `allValue`):
 *
 * - `$var`, `${var}`, `[[var]]`: one value regex-escaped (`a.b` → `a\\.b`), several as
 *   `(a|b)` each escaped, {@link ALL} as `allValue`;
 * - `${var:regex}` the same; `${var:pipe}` values joined with `|` unescaped; `${var:raw}` and
 *   `${var:csv}` joined with `,` unescaped;
 * - `$__rate_interval`, `$__interval`, `$__interval_ms`, `$__range`, `$__range_s`,
 *   `$__range_ms` from `options`.
 *
 * @throws Error naming the variable when `values` has none for a variable of `expr`, or an unknown
 *   format.
 */
export function substituteVariables(
  expr: string,
  values: VariableValues,
  options: SubstitutionOptions = {},
): string {
  const rateInterval = options.rateInterval ?? '1m';
  const interval = options.interval ?? '15s';
  const range = options.range ?? '1h';
  const allValue = options.allValue ?? '.*';
  const builtins: Readonly<Record<string, string>> = {
    __rate_interval: rateInterval,
    __interval: interval,
    __interval_ms: String(durationMs(interval)),
    __range: range,
    __range_s: String(Math.floor(durationMs(range) / 1000)),
    __range_ms: String(durationMs(range)),
  };
  return expr.replace(
    VARIABLE,
    (
      whole,
      braced?: string,
      format?: string,
      bracketed?: string,
      bracketFormat?: string,
      plain?: string,
    ) => {
      const name = braced ?? bracketed ?? plain ?? '';
      const builtin = builtins[name];
      if (builtin !== undefined) return builtin;
      if (!Object.hasOwn(values, name)) {
        throw new Error(`no value given for template variable $${name} in: ${expr}`);
      }
      const given = values[name];
      const list = typeof given === 'string' ? [given] : [...(given ?? [])];
      if (list.length === 0) throw new Error(`no value given for template variable $${name}`);
      return formatValues(name, list, format ?? bracketFormat, allValue, whole);
    },
  );
}

function formatValues(
  name: string,
  list: readonly string[],
  format: string | undefined,
  allValue: string,
  whole: string,
): string {
  if (list.includes(ALL)) return allValue;
  switch (format) {
    case undefined:
    case 'regex': {
      const escaped = list.map(regexEscape);
      return escaped.length === 1 ? (escaped[0] ?? '') : `(${escaped.join('|')})`;
    }
    case 'pipe':
      return list.join('|');
    case 'raw':
    case 'csv':
      return list.join(',');
    default:
      throw new Error(`unsupported format "${format}" of $${name} in ${whole}`);
  }
}

/**
 * Grafana's `prometheusSpecialRegexEscape`, plus `"`: a value inside a double-quoted PromQL
 * regex matcher, matching itself literally.
 */
function regexEscape(value: string): string {
  return value
    .replace(/\\/g, '\\\\\\\\')
    .replace(/[$^*{}[\]'+?.()|]/g, '\\\\$&')
    .replace(/"/g, '\\"');
}

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  y: 31_536_000_000,
};

function durationMs(duration: string): number {
  const match = /^(\d+)(ms|s|m|h|d|w|y)$/.exec(duration);
  if (match === null) throw new Error(`not a Prometheus duration: "${duration}"`);
  return Number(match[1]) * (UNIT_MS[match[2] ?? ''] ?? 0);
}

const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'inf',
  'nan',
  'atan2',
]);

/** `expr` without string contents, range selectors and label matchers; and what they named. */
function strip(expr: string): { rest: string; labels: Set<string> } {
  const labels = new Set<string>();
  let rest = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""');
  rest = rest.replace(/\[[^\]]*\]/g, ' ');
  rest = rest.replace(/\{([^}]*)\}/g, (_all, inner: string) => {
    for (const m of inner.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)) {
      if (m[1] !== undefined) labels.add(m[1]);
    }
    return ' ';
  });
  rest = rest.replace(
    /\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g,
    (_all, inner: string) => {
      for (const m of inner.matchAll(/[a-zA-Z_][a-zA-Z0-9_]*/g)) labels.add(m[0]);
      return ' ';
    },
  );
  return { rest, labels };
}

/**
 * The metric names a PromQL expression (or a series selector) reads: identifiers that are not
 * functions, keywords, labels, numbers or strings. A light parser for the expressions these
 * dashboards write, not all of PromQL (no `{__name__=…}` selectors, no `offset` durations).
 */
export function metricNames(expr: string): string[] {
  const { rest } = strip(expr);
  const names = new Set<string>();
  for (const m of rest.matchAll(/(?<![a-zA-Z0-9_:.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    const [, name, call] = m;
    if (name === undefined || call !== undefined || KEYWORDS.has(name)) continue;
    names.add(name);
  }
  return [...names].sort();
}

/** The label names a PromQL expression matches on or groups by. */
export function labelNames(expr: string): string[] {
  return [...strip(expr).labels].sort();
}
