import { METRICS, type MetricKey } from './catalogue.js';

/**
 * How metric names reach Prometheus:
 * - `otel-js`: `@opentelemetry/exporter-prometheus` (the JS SDK's exporter): dots become
 *   underscores, counters get `_total`, no unit suffix, and every series carries `otel_scope_name`;
 * - `collector`: the OpenTelemetry Collector's Prometheus exporters (and Prometheus's own OTLP
 *   receiver) with their default `add_metric_suffixes`: the same, plus a unit suffix (`s` becomes
 *   `_seconds`; annotations such as `{call}` add nothing).
 */
export type PrometheusNaming = 'otel-js' | 'collector';

/** Every naming scheme, default first. */
export const PROMETHEUS_NAMINGS: readonly PrometheusNaming[] = ['otel-js', 'collector'];

/** The Prometheus series names of one catalogue instrument. */
export interface PrometheusSeriesNames {
  /** Prometheus type: counters and histograms; up-down counters and gauges become gauges. */
  readonly type: 'counter' | 'gauge' | 'histogram';
  /** The metric family: what a counter or gauge series is named; a histogram's base name. */
  readonly name: string;
  /** Histograms only: `<name>_bucket`, `<name>_sum`, `<name>_count`. */
  readonly bucket?: string;
  readonly sum?: string;
  readonly count?: string;
}

/** Unit suffixes the Collector appends (UCUM unit → Prometheus suffix) for the units we use. */
const UNIT_SUFFIXES: Readonly<Record<string, string>> = {
  s: 'seconds',
  ms: 'milliseconds',
  By: 'bytes',
};

/**
 * The Prometheus names of catalogue instrument `key` under `naming` (default `otel-js`). Dashboards
 * and alert rules take every name from here, so a renamed instrument breaks their build.
 */
export function prometheusNames(
  key: MetricKey,
  naming: PrometheusNaming = 'otel-js',
): PrometheusSeriesNames {
  const def = METRICS[key];
  let name = def.name.replace(/[^a-zA-Z0-9_:]/g, '_');
  const suffix = naming === 'collector' ? UNIT_SUFFIXES[def.unit] : undefined;
  if (suffix !== undefined && !name.endsWith(`_${suffix}`)) name = `${name}_${suffix}`;
  switch (def.kind) {
    case 'counter':
      return { type: 'counter', name: name.endsWith('_total') ? name : `${name}_total` };
    case 'histogram':
      return {
        type: 'histogram',
        name,
        bucket: `${name}_bucket`,
        sum: `${name}_sum`,
        count: `${name}_count`,
      };
    default:
      return { type: 'gauge', name };
  }
}

/** A Prometheus label name for attribute `key` (dots become underscores). */
export function prometheusLabel(attribute: string): string {
  return attribute.replace(/[^a-zA-Z0-9_]/g, '_');
}
