import type { Attributes } from '@opentelemetry/api';
import { DURATION_BUCKETS_SECONDS, type HistogramKey, METRICS } from './catalogue.js';
import { LocalHistogram } from './LocalHistogram.js';
import type { BoundInstruments } from './metrics.js';

/** The two duration histograms the policies record themselves. */
export type DurationKind = 'callDuration' | 'attemptDuration';

/** Local histograms by catalogue key, each by its (cached, frozen) attribute set. */
const local = new Map<HistogramKey, Map<Attributes, LocalHistogram>>();
let producers = 0;

/** The bucket boundaries of catalogue histogram `key` (the same ones the SDK is advised). */
export function boundariesOf(key: HistogramKey): readonly number[] {
  return METRICS[key].buckets ?? DURATION_BUCKETS_SECONDS;
}

/**
 * Records a duration in catalogue histogram `key`, through the SDK histogram or — while a
 * {@link ResilienceMetricProducer} exists — into a local histogram that producer exports.
 * `attributes` objects are cached, frozen sets, so identity is a valid key.
 * @internal
 */
export function recordDuration(
  key: HistogramKey,
  seconds: number,
  attributes: Attributes,
  bound: BoundInstruments,
): void {
  if (producers > 0) {
    let byAttributes = local.get(key);
    if (byAttributes === undefined) {
      byAttributes = new Map();
      local.set(key, byAttributes);
    }
    let histogram = byAttributes.get(attributes);
    if (histogram === undefined) {
      histogram = new LocalHistogram(boundariesOf(key));
      byAttributes.set(attributes, histogram);
    }
    histogram.record(seconds);
  } else if (bound.recording) {
    bound.histograms[key].record(seconds, attributes);
  }
}

/** Whether durations are being aggregated locally for a producer. @internal */
export function localDurationsActive(): boolean {
  return producers > 0;
}

/** Registers (+1) or unregisters (-1) a producer. @internal */
export function countProducer(delta: 1 | -1): void {
  producers = Math.max(0, producers + delta);
}

/** The local histograms recorded so far, by catalogue key and attribute set. @internal */
export function localDurations(): ReadonlyMap<
  HistogramKey,
  ReadonlyMap<Attributes, LocalHistogram>
> {
  return local;
}
