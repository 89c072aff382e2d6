import {
  type Attributes,
  createNoopMeter,
  diag,
  type Histogram,
  type MeterProvider,
  metrics,
  type Observable,
} from '@opentelemetry/api';
import type { Disposable } from '../Disposable.js';
import { SCOPE_NAME, VERSION } from '../version.js';
import {
  type CounterKey,
  DURATION_BUCKETS_SECONDS,
  type HistogramKey,
  METRICS,
  type MetricDefinition,
  type MetricKey,
  type ObservedKey,
  type ReadingKey,
} from './catalogue.js';
import { type DurationKind, recordDuration } from './durations.js';

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
  /** Every histogram of the catalogue, by key. */
  readonly histograms: Readonly<Record<HistogramKey, Histogram>>;
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

const HISTOGRAM_KEYS = (Object.keys(METRICS) as MetricKey[]).filter(
  (key): key is HistogramKey => METRICS[key].kind === 'histogram',
);

function bind(provider: MeterProvider): BoundInstruments {
  const meter = provider.getMeter(SCOPE_NAME, VERSION);
  const histograms = {} as Record<HistogramKey, Histogram>;
  for (const key of HISTOGRAM_KEYS) {
    const def: MetricDefinition = METRICS[key];
    histograms[key] = meter.createHistogram(def.name, {
      unit: def.unit,
      description: def.description,
      advice: { explicitBucketBoundaries: [...(def.buckets ?? DURATION_BUCKETS_SECONDS)] },
    });
  }
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
    recording: Object.getPrototypeOf(histograms.callDuration) !== noopHistogramPrototype,
    histograms,
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
      const value = readValue(reading);
      if (value === undefined) continue;
      const id = attributesKey(reading.attributes);
      const sum = sums.get(id) ?? new Series(reading.attributes);
      sum.value += value;
      sums.set(id, sum);
    }
    for (const s of sums.values()) result.observe(observable, s.value, s.attributes);
  }
}

/**
 * A reading's value, or `undefined` to leave it out: a reading computed by adapter or user code
 * must not abort the collection of every other metric by throwing or answering NaN.
 */
function readValue(reading: Reading): number | undefined {
  try {
    const value = reading.value;
    return Number.isFinite(value) ? value : undefined;
  } catch (error) {
    diag.error('otel-resilience: a metric reading threw; it is left out of this collection', error);
    return undefined;
  }
}

/*
 * The public recording API below lets adapters report catalogue instruments without reaching
 * into the series and bindings above. Keys are restricted by instrument kind at compile time and
 * checked at run time, and every attribute key must be one the catalogue declares for the
 * instrument, so an adapter cannot emit a series the dashboards and docs do not know about.
 */

/** A counter series of the catalogue, from {@link counterSeries}. */
export interface CounterSeries {
  /**
   * Adds `n` (default 1) to the series: a few nanoseconds, no SDK call. A counter only grows, so
   * a negative, NaN or infinite `n` is ignored.
   */
  add(n?: number): void;
}

/** Histograms an adapter may record: all but the two a policy pipeline records itself. */
export type RecordableHistogramKey = Exclude<HistogramKey, DurationKind>;

class CounterHandle implements CounterSeries {
  constructor(private readonly series: Series) {}

  add(n = 1): void {
    if (n >= 0 && n !== Number.POSITIVE_INFINITY) this.series.value += n;
  }
}

function checkKind(key: MetricKey, kinds: readonly string[], what: string): MetricDefinition {
  const def: MetricDefinition | undefined = Object.hasOwn(METRICS, key) ? METRICS[key] : undefined;
  if (def === undefined || !kinds.includes(def.kind)) {
    throw new TypeError(`${JSON.stringify(key)} is not ${what} of the metric catalogue`);
  }
  return def;
}

function checkDeclared(def: MetricDefinition, attributes: Attributes): void {
  for (const name in attributes) {
    if (!def.attributes.includes(name)) {
      throw new TypeError(
        `attribute ${JSON.stringify(name)} is not declared for ${def.name} (declared: ${def.attributes.join(', ')})`,
      );
    }
  }
}

/**
 * The process-wide series of catalogue counter `key` with these attributes, as a handle to add
 * to. Handles with equal attributes share one series; it is exported (cumulative, since the
 * process started) through an observable counter read at collection time, so `add()` costs a few
 * nanoseconds and nothing is lost while no SDK is registered. Make the handle once (at
 * construction, per bounded attribute set) and keep it.
 *
 * Also binds the observable instruments to the global MeterProvider registered now; a provider
 * registered later is picked up at the next {@link recordHistogram} or policy call.
 *
 * @param key a counter of {@link METRICS}
 * @param attributes bounded values only (names the user chose, fixed sets), every key declared
 *   for the instrument in the catalogue
 * @throws TypeError when `key` is not a counter or an attribute key is not declared for it
 */
export function counterSeries(key: CounterKey, attributes: Attributes): CounterSeries {
  checkDeclared(checkKind(key, ['counter'], 'a counter'), attributes);
  const handle = new CounterHandle(series(key, attributes));
  instruments();
  return handle;
}

/**
 * Reports `value()` for up-down counter or gauge `key` with these attributes, read at every
 * collection until the returned handle is disposed (do dispose it when what it measures goes
 * away, or it is reported forever). Readings of `key` with equal attributes are summed. A
 * `value()` that throws or answers a non-finite number is left out of that collection (the throw
 * is reported through the diag logger).
 *
 * Also binds the observable instruments to the global MeterProvider registered now (see
 * {@link counterSeries}).
 *
 * @param key an up-down counter or gauge of {@link METRICS}
 * @param attributes bounded values only, every key declared for the instrument in the catalogue
 * @param value the current value, in the instrument's unit; cheap and synchronous
 * @throws TypeError when `key` is not an up-down counter or gauge, or an attribute key is not
 *   declared for it
 */
export function observeReading(
  key: ReadingKey,
  attributes: Attributes,
  value: () => number,
): Disposable {
  checkDeclared(
    checkKind(key, ['updowncounter', 'gauge'], 'an up-down counter or gauge'),
    attributes,
  );
  const frozen = Object.freeze({ ...attributes });
  const registration = computedReading(key, {
    attributes: frozen,
    get value() {
      return value();
    },
  });
  instruments();
  return registration;
}

const POLICY_HISTOGRAMS: ReadonlySet<string> = new Set<DurationKind>([
  'callDuration',
  'attemptDuration',
]);
/** Attribute objects already checked, per histogram, so the check costs one lookup afterwards. */
const checkedHistogramAttributes = new Map<HistogramKey, WeakSet<Attributes>>();

/**
 * Records `seconds` in catalogue histogram `key` through the SDK (with the catalogue's bucket
 * boundaries as advice), or locally while a `ResilienceMetricProducer` exists; does nothing while
 * neither is there. Through the SDK every record hashes the attribute set (about 0.5–1 µs). Pass
 * the same frozen attributes object each time: its keys are checked on first use only, and the
 * producer keys its histograms by it.
 *
 * @param key a histogram of {@link METRICS} other than the two duration histograms the policies
 *   record themselves
 * @param seconds the measurement, ≥ 0 (negative or non-finite values are ignored)
 * @param attributes bounded values only, every key declared for the instrument in the catalogue
 * @throws TypeError when `key` is not such a histogram or an attribute key is not declared for it
 */
export function recordHistogram(
  key: RecordableHistogramKey,
  seconds: number,
  attributes: Attributes,
): void {
  let checked = checkedHistogramAttributes.get(key);
  if (checked?.has(attributes) !== true) {
    if (POLICY_HISTOGRAMS.has(key)) {
      throw new TypeError(`${JSON.stringify(key)} is recorded by the policies only`);
    }
    checkDeclared(checkKind(key, ['histogram'], 'a histogram'), attributes);
    if (checked === undefined) {
      checked = new WeakSet();
      checkedHistogramAttributes.set(key, checked);
    }
    checked.add(attributes);
  }
  if (!(seconds >= 0 && seconds !== Number.POSITIVE_INFINITY)) return;
  recordDuration(key, seconds, attributes, instruments());
}
