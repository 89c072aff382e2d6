import type { Attributes } from '@opentelemetry/api';
import { LocalHistogram } from './LocalHistogram.js';
import type { BoundInstruments } from './metrics.js';

/** Which duration histogram a measurement belongs to. */
export type DurationKind = 'callDuration' | 'attemptDuration';

const local: Record<DurationKind, Map<Attributes, LocalHistogram>> = {
  callDuration: new Map(),
  attemptDuration: new Map(),
};
let producers = 0;

/**
 * Records a duration, through the SDK histogram or — while a {@link ResilienceMetricProducer}
 * exists — into a local histogram that producer exports. `attributes` objects are the cached,
 * frozen sets from PolicyTelemetry, so identity is a valid key.
 * @internal
 */
export function recordDuration(
  kind: DurationKind,
  seconds: number,
  attributes: Attributes,
  bound: BoundInstruments,
): void {
  if (producers > 0) {
    let histogram = local[kind].get(attributes);
    if (histogram === undefined) {
      histogram = new LocalHistogram();
      local[kind].set(attributes, histogram);
    }
    histogram.record(seconds);
  } else if (bound.recording) {
    bound[kind].record(seconds, attributes);
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

/** The local histograms of `kind`, keyed by their attribute sets. @internal */
export function localDurations(kind: DurationKind): ReadonlyMap<Attributes, LocalHistogram> {
  return local[kind];
}
