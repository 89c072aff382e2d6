import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import {
  BigValueColorMode,
  BigValueGraphMode,
  GraphThresholdsStyleConfigBuilder,
  GraphThresholdsStyleMode,
  LegendDisplayMode,
  LegendPlacement,
  ReduceDataOptionsBuilder,
  SortOrder,
  StackingConfigBuilder,
  StackingMode,
  TooltipDisplayMode,
  VisibilityMode,
  VizLegendOptionsBuilder,
  VizTooltipOptionsBuilder,
} from '@grafana/grafana-foundation-sdk/common';
import {
  type DataSourceRef,
  FieldColorBuilder,
  FieldColorModeId,
  MappingType,
  type Panel,
  type Threshold,
  type ThresholdsConfig,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  type ValueMapping,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as statetimeline from '@grafana/grafana-foundation-sdk/statetimeline';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';

/** The name of the datasource template variable every panel and variable queries through. */
export const DATASOURCE_VARIABLE = 'datasource';

/** Every query goes to the datasource the `datasource` variable selects. */
export const DATASOURCE: DataSourceRef = { type: 'prometheus', uid: `\${${DATASOURCE_VARIABLE}}` };

/** One PromQL query of a panel. */
export interface Target {
  readonly expr: string;
  /** Grafana legend template, e.g. `{{resilience_name}}`. */
  readonly legend?: string;
  /** Evaluated once at the end of the range (stats, tables) instead of over the range. */
  readonly instant?: boolean;
}

/** What every panel has. */
export interface PanelSpec {
  readonly title: string;
  /** Shown in the panel's (i) tooltip: what the panel counts and from which instrument. */
  readonly description: string;
  readonly targets: readonly Target[];
  /** Grafana unit id: `s`, `reqps`, `percentunit`, `short`, `ops`, … Default `short`. */
  readonly unit?: string;
  readonly min?: number;
  readonly max?: number;
  readonly decimals?: number;
  /** Grid width (of 24). Default 12. */
  readonly width?: number;
  /** Grid height. Default 8. */
  readonly height?: number;
  /** Threshold steps above the green base, e.g. `[{ value: 0.2, color: 'orange' }]`. */
  readonly thresholds?: readonly Threshold[];
  /** Colour below the first threshold. Default `green`. */
  readonly baseColor?: string;
}

/** A panel builder of any visualization. */
export type AnyPanel = cog.Builder<Panel>;

/** A ratio as a percentage for descriptions: 0.2 → `20%`, 0.075 → `7.5%`. */
export function percent(ratio: number): string {
  return `${Number((ratio * 100).toFixed(2))}%`;
}

/** The 20%/50%-style steps: green below `warning`, orange from it, red from `critical`. */
export function warningCritical(warning: number, critical: number): Threshold[] {
  return [
    { value: warning, color: 'orange' },
    { value: critical, color: 'red' },
  ];
}

function thresholdsOf(steps: readonly Threshold[] = [], base = 'green'): ThresholdsConfigBuilder {
  return new ThresholdsConfigBuilder()
    .mode(ThresholdsMode.Absolute)
    .steps([{ value: null, color: base }, ...steps]);
}

function queries(targets: readonly Target[]): DataqueryBuilder[] {
  return targets.map((target, index) => {
    const query = new DataqueryBuilder()
      .datasource(DATASOURCE)
      .refId(String.fromCharCode(65 + index))
      .expr(target.expr)
      .legendFormat(target.legend ?? '__auto');
    if (target.instant === true) query.instant().format(PromQueryFormat.Table);
    else query.range();
    return query;
  });
}

interface CommonBuilder<T> {
  title(title: string): T;
  description(description: string): T;
  datasource(datasource: DataSourceRef): T;
  targets(targets: cog.Builder<cog.Dataquery>[]): T;
  unit(unit: string): T;
  min(min: number): T;
  max(max: number): T;
  decimals(decimals: number): T;
  span(w: number): T;
  height(h: number): T;
  thresholds(thresholds: cog.Builder<ThresholdsConfig>): T;
}

function common<T extends CommonBuilder<T>>(builder: T, spec: PanelSpec): T {
  builder
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .targets(queries(spec.targets))
    .unit(spec.unit ?? 'short')
    .span(spec.width ?? 12)
    .height(spec.height ?? 8)
    .thresholds(thresholdsOf(spec.thresholds, spec.baseColor));
  if (spec.min !== undefined) builder.min(spec.min);
  if (spec.max !== undefined) builder.max(spec.max);
  if (spec.decimals !== undefined) builder.decimals(spec.decimals);
  return builder;
}

/** Options of a time series panel. */
export interface TimeseriesSpec extends PanelSpec {
  /** Stack the series (parts of a whole: outcomes, states). */
  readonly stack?: boolean;
  /** Draw the thresholds on the graph as dashed lines over coloured areas. */
  readonly drawThresholds?: boolean;
}

/** A time series panel: multi-series tooltip, legend as a table with mean and max. */
export function timeseriesPanel(spec: TimeseriesSpec): timeseries.PanelBuilder {
  const panel = common(new timeseries.PanelBuilder(), spec)
    .fillOpacity(spec.stack === true ? 35 : 10)
    .lineWidth(1)
    .showPoints(VisibilityMode.Never)
    .spanNulls(false)
    .legend(
      new VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(LegendDisplayMode.Table)
        .placement(LegendPlacement.Bottom)
        .calcs(['mean', 'max', 'lastNotNull']),
    )
    .tooltip(
      new VizTooltipOptionsBuilder().mode(TooltipDisplayMode.Multi).sort(SortOrder.Descending),
    );
  if (spec.stack === true) {
    panel.stacking(new StackingConfigBuilder().mode(StackingMode.Normal));
  }
  panel.thresholdsStyle(
    new GraphThresholdsStyleConfigBuilder().mode(
      spec.drawThresholds === true
        ? GraphThresholdsStyleMode.DashedAndArea
        : GraphThresholdsStyleMode.Off,
    ),
  );
  return panel;
}

/** Options of a stat panel. */
export interface StatSpec extends PanelSpec {
  /** Colour the background by the thresholds (default: colour the value). */
  readonly background?: boolean;
}

/** A stat panel: the last value of each series, with a sparkline. */
export function statPanel(spec: StatSpec): stat.PanelBuilder {
  return common(new stat.PanelBuilder(), { width: 6, height: 4, ...spec })
    .colorScheme(new FieldColorBuilder().mode(FieldColorModeId.Thresholds))
    .colorMode(spec.background === true ? BigValueColorMode.Background : BigValueColorMode.Value)
    .graphMode(
      spec.targets.some((t) => t.instant === true)
        ? BigValueGraphMode.None
        : BigValueGraphMode.Area,
    )
    .reduceOptions(new ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false));
}

/** A value of a state-timeline panel and how it is shown. */
export interface StateValue {
  readonly value: number;
  readonly text: string;
  readonly color: string;
}

/** A state timeline: one row per series, coloured by `states`. */
export function stateTimelinePanel(
  spec: PanelSpec & { readonly states: readonly StateValue[] },
): statetimeline.PanelBuilder {
  const options: Record<string, { text: string; color: string; index: number }> = {};
  spec.states.forEach((state, index) => {
    options[String(state.value)] = { text: state.text, color: state.color, index };
  });
  const mappings: ValueMapping[] = [{ type: MappingType.ValueToText, options }];
  return common(new statetimeline.PanelBuilder(), spec)
    .mappings(mappings)
    .colorScheme(new FieldColorBuilder().mode(FieldColorModeId.Thresholds))
    .showValue(VisibilityMode.Never)
    .mergeValues(true)
    .rowHeight(0.8)
    .fillOpacity(80)
    .lineWidth(0)
    .legend(new VizLegendOptionsBuilder().showLegend(true).displayMode(LegendDisplayMode.List))
    .tooltip(new VizTooltipOptionsBuilder().mode(TooltipDisplayMode.Single));
}

/**
 * A table of instant queries: one row per series, its labels as columns, `valueColumn` the value.
 */
export function tablePanel(
  spec: PanelSpec & { readonly valueColumn: string; readonly hide?: readonly string[] },
): table.PanelBuilder {
  const excludeByName: Record<string, boolean> = { Time: true };
  for (const column of spec.hide ?? []) excludeByName[column] = true;
  return common(new table.PanelBuilder(), spec)
    .transformations([
      { id: 'merge', options: {} },
      { id: 'organize', options: { excludeByName, renameByName: { Value: spec.valueColumn } } },
    ])
    .filterable(true);
}
