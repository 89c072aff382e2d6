import {
  type Attributes,
  createNoopMeter,
  type Histogram,
  type MeterProvider,
  metrics,
  type Observable,
} from '@opentelemetry/api';
import { SCOPE_NAME, VERSION } from '../version.js';
import {
  DURATION_BUCKETS_SECONDS,
  type HistogramKey,
  HTTP_DURATION_BUCKETS_SECONDS,
  METRICS,
  type MetricKey,
  type ObservedKey,
} from './catalogue.js';

/*
 * Why counters and gauges are kept here rather than recorded through the SDK on each call: with
 * the OpenTelemetry JS SDK every `add()`/`record()` hashes its attribute set (~0.5–1 µs with a few
 * attributes), which would cost more than the policies themselves. Counters, up-down counters and
 * gauges are therefore plain numbers in series objects that callers keep a reference to, exported
 * through observable instruments read at collection time — exact, and a few nanoseconds per call.
 * Histograms have no observable form in the API, so they are recorded through the SDK, and only
 * when an SDK is installed.
 */

/** A value the exporter reads at collection time. */
export interface Reading {
  readonly attributes: Attributes;
  readonly value: number;
}

/** A counter, up-down counter or gauge series owned by this module; callers mutate `value`. */
export class Series implements Reading {
  value = 0;
  constructor(readonly attributes: Attributes) {}
}

const OBSERVED_KEYS = (Object.keys(METRICS) as MetricKey[]).filter(
  (key): key is ObservedKey => METRICS[key].kind !== 'histogram',
);

const seriesByKey = new Map<ObservedKey, Map<string, Series>>();
const computedByKey = new Map<ObservedKey, Set<Reading>>();

/** Attribute sets are compared by their sorted entries, like the SDK does. */
export function attributesKey(attributes: Attributes): string {
  return JSON.stringify(Object.entries(attributes).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/**
 * The process-wide series of `key` with these attributes. Policies with the same name share it, so
 * a counter sums their calls and a state gauge counts the breakers in each state.
 */
export function series(key: ObservedKey, attributes: Attributes): Series {
  let family = seriesByKey.get(key);
  if (family === undefined) {
    family = new Map();
    seriesByKey.set(key, family);
  }
  const id = attributesKey(attributes);
  let existing = family.get(id);
  if (existing === undefined) {
    existing = new Series(Object.freeze({ ...attributes }));
    family.set(id, existing);
  }
  return existing;
}

/** Registers a reading computed at collection time (a budget's tokens); dispose to remove it. */
export function computedReading(key: ObservedKey, reading: Reading): { dispose(): void } {
  let set = computedByKey.get(key);
  if (set === undefined) {
    set = new Set();
    computedByKey.set(key, set);
  }
  set.add(reading);
  return { dispose: () => set.delete(reading) };
}

/** The SDK-backed instruments for the currently registered global MeterProvider. */
export interface BoundInstruments {
  readonly provider: MeterProvider;
  /** False while no SDK is registered: callers then skip timing altogether. */
  readonly recording: boolean;
  readonly callDuration: Histogram;
  readonly attemptDuration: Histogram;
  readonly httpServerDuration: Histogram;
}

const noopHistogramPrototype = Object.getPrototypeOf(createNoopMeter().createHistogram('noop'));
let bound: BoundInstruments | undefined;

/**
 * The instruments for the current global MeterProvider. The metrics API has no proxy provider,
 * so this re-binds when the application registers (or replaces) its SDK after policies were made.
 */
export function instruments(): BoundInstruments {
  const provider = metrics.getMeterProvider();
  if (bound === undefined || bound.provider !== provider) bound = bind(provider);
  return bound;
}

function histogram(provider: MeterProvider, key: HistogramKey): Histogram {
  const def = METRICS[key];
  const boundaries =
    key === 'httpServerDuration' ? HTTP_DURATION_BUCKETS_SECONDS : DURATION_BUCKETS_SECONDS;
  return provider.getMeter(SCOPE_NAME, VERSION).createHistogram(def.name, {
    unit: def.unit,
    description: def.description,
    advice: { explicitBucketBoundaries: [...boundaries] },
  });
}

function bind(provider: MeterProvider): BoundInstruments {
  const meter = provider.getMeter(SCOPE_NAME, VERSION);
  const callDuration = histogram(provider, 'callDuration');
  const observables = new Map<ObservedKey, Observable>();
  for (const key of OBSERVED_KEYS) {
    const def = METRICS[key];
    const options = { unit: def.unit, description: def.description };
    observables.set(
      key,
      def.kind === 'counter'
        ? meter.createObservableCounter(def.name, options)
        : def.kind === 'updowncounter'
          ? meter.createObservableUpDownCounter(def.name, options)
          : meter.createObservableGauge(def.name, options),
    );
  }
  meter.addBatchObservableCallback(
    (result) => observeAll(result, observables),
    [...observables.values()],
  );
  return {
    provider,
    recording: Object.getPrototypeOf(callDuration) !== noopHistogramPrototype,
    callDuration,
    attemptDuration: histogram(provider, 'attemptDuration'),
    httpServerDuration: histogram(provider, 'httpServerDuration'),
  };
}

function observeAll(
  result: { observe(o: Observable, v: number, a?: Attributes): void },
  observables: Map<ObservedKey, Observable>,
): void {
  for (const [key, observable] of observables) {
    for (const s of seriesByKey.get(key)?.values() ?? [])
      result.observe(observable, s.value, s.attributes);
    const computed = computedByKey.get(key);
    if (computed === undefined || computed.size === 0) continue;
    // Readings with equal attributes (two budgets sharing a name) are summed: an observable may
    // report each attribute set once per collection.
    const sums = new Map<string, Series>();
    for (const reading of computed) {
      const id = attributesKey(reading.attributes);
      const sum = sums.get(id) ?? new Series(reading.attributes);
      sum.value += reading.value;
      sums.set(id, sum);
    }
    for (const s of sums.values()) result.observe(observable, s.value, s.attributes);
  }
}
