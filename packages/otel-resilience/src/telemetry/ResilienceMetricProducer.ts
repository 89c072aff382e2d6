import { type Attributes, type HrTime, ValueType } from '@opentelemetry/api';
import { SCOPE_NAME, VERSION } from '../version.js';
import { METRICS } from './catalogue.js';
import { countProducer, localDurations } from './durations.js';
import { LocalHistogram } from './LocalHistogram.js';
import { attributesKey } from './metrics.js';

// Values of the SDK's InstrumentType, DataPointType and AggregationTemporality enums, copied so
// that this package never imports the SDK at run time.
const INSTRUMENT_TYPE_HISTOGRAM = 'HISTOGRAM';
const DATA_POINT_TYPE_HISTOGRAM = 0;
const TEMPORALITY_CUMULATIVE = 1;

const hrTime = (epochMs: number): HrTime => {
  const seconds = Math.floor(epochMs / 1000);
  return [seconds, Math.round((epochMs - seconds * 1000) * 1e6)];
};

/**
 * Exports the catalogue's histograms — `resilience.call.duration`, `resilience.attempt.duration`,
 * `http.server.request.duration` (middleware `serverMetrics`) and those adapters record with
 * `recordHistogram` (`db.client.connection.wait_time`, …) — from histograms aggregated in process,
 * for services where the SDK's per-measurement cost matters (it hashes the attribute set on every
 * `record()`, about 0.5–1 µs). Counters and gauges are always aggregated this way; this producer
 * extends it to the histograms, with the catalogue's bucket boundaries.
 *
 * Pass the same instance to every MetricReader of the SDK (`metricProducers: [producer]`); while
 * it exists, the histograms are no longer recorded through the global MeterProvider, so a reader
 * without it would not see them. `shutdown()` returns to the default.
 *
 * @example
 * const producer = new ResilienceMetricProducer();
 * const meterProvider = new MeterProvider({
 *   readers: [new PrometheusExporter({ port: 9464, metricProducers: [producer] })],
 * });
 */
export class ResilienceMetricProducer {
  private active = true;

  constructor() {
    countProducer(1);
  }

  /**
   * Returns the histograms as SDK `CollectionResult` data (cumulative temporality). Typed loosely
   * because the SDK's enums are not structurally assignable from outside the SDK.
   */
  // biome-ignore lint/suspicious/noExplicitAny: matches the SDK's MetricProducer without importing it
  async collect(_options?: { timeoutMillis?: number }): Promise<any> {
    const endTime = hrTime(Date.now());
    const metrics = [...localDurations()]
      .map(([key, histograms]) => {
        const merged = mergeByAttributes(histograms);
        return {
          descriptor: {
            name: METRICS[key].name,
            description: METRICS[key].description,
            unit: METRICS[key].unit,
            type: INSTRUMENT_TYPE_HISTOGRAM,
            valueType: ValueType.DOUBLE,
            advice: {},
          },
          aggregationTemporality: TEMPORALITY_CUMULATIVE,
          dataPointType: DATA_POINT_TYPE_HISTOGRAM,
          dataPoints: [...merged].map(([attributes, h]) => ({
            attributes,
            startTime: hrTime(h.startEpochMs),
            endTime,
            value: {
              buckets: { boundaries: [...h.boundaries], counts: [...h.counts] },
              sum: h.sum,
              count: h.count,
              min: h.min,
              max: h.max,
            },
          })),
        };
      })
      .filter((metric) => metric.dataPoints.length > 0);
    return {
      resourceMetrics: {
        resource: undefined,
        scopeMetrics:
          metrics.length === 0 ? [] : [{ scope: { name: SCOPE_NAME, version: VERSION }, metrics }],
      },
      errors: [],
    };
  }

  /** Stops local aggregation of the histograms (recording goes back through the SDK). */
  async shutdown(): Promise<void> {
    if (!this.active) return;
    this.active = false;
    countProducer(-1);
  }
}

function mergeByAttributes(
  histograms: ReadonlyMap<Attributes, LocalHistogram>,
): Map<Attributes, LocalHistogram> {
  const byKey = new Map<string, [Attributes, LocalHistogram]>();
  for (const [attributes, histogram] of histograms) {
    const key = attributesKey(attributes);
    const existing = byKey.get(key);
    if (existing === undefined) {
      byKey.set(key, [attributes, histogram]);
    } else {
      const sum = new LocalHistogram(histogram.boundaries);
      sum.mergeFrom(existing[1]);
      sum.mergeFrom(histogram);
      byKey.set(key, [existing[0], sum]);
    }
  }
  return new Map(byKey.values());
}
