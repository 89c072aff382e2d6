import { readFileSync } from 'node:fs';
import { type Attributes, diag } from '@opentelemetry/api';
import {
  DataPointType,
  type HistogramMetricData,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { captureDiag, points, useTestTelemetry } from '../testing/otel.js';
import {
  type CounterKey,
  METRICS,
  type MetricDefinition,
  type MetricKey,
  type ReadingKey,
} from './catalogue.js';
import {
  counterSeries,
  observeReading,
  type RecordableHistogramKey,
  recordHistogram,
} from './metrics.js';
import { renderMetricsTable } from './telemetryTable.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

const POOL_NAME = 'db.client.connection.pool.name';

/**
 * The semantic-convention instruments: their names, units and attributes are the conventions',
 * and each names its subject with the attribute given here (as `resilience.name` does ours).
 */
const SEMCONV: Readonly<Record<string, { unit: string; subject: string }>> = {
  // Emitted only when no HTTP instrumentation does.
  'http.server.request.duration': { unit: 's', subject: 'http.route' },
  'db.client.connection.count': { unit: '{connection}', subject: POOL_NAME },
  'db.client.connection.max': { unit: '{connection}', subject: POOL_NAME },
  'db.client.connection.pending_requests': { unit: '{request}', subject: POOL_NAME },
  'db.client.connection.timeouts': { unit: '{timeout}', subject: POOL_NAME },
  'db.client.connection.wait_time': { unit: 's', subject: POOL_NAME },
};

const entries = Object.entries(METRICS) as [MetricKey, MetricDefinition][];

describe('metric catalogue', () => {
  it('names every instrument under resilience. (or by the semantic conventions) with a UCUM unit and bounded attributes', () => {
    for (const [, metric] of entries) {
      expect(metric.description.length).toBeGreaterThan(10);
      const semconv = SEMCONV[metric.name];
      if (semconv !== undefined) {
        expect(metric.unit).toBe(semconv.unit);
        expect(metric.attributes).toContain(semconv.subject);
        continue;
      }
      expect(metric.name).toMatch(/^resilience\.[a-z_.]+$/);
      expect(
        metric.kind === 'histogram' ? metric.unit === 's' : /^\{[a-z]+\}$/.test(metric.unit),
      ).toBe(true);
      // Pool metrics of our own are about a pool, like the conventions' ones beside them.
      expect(metric.attributes).toContain(
        metric.name.startsWith('resilience.db.pool.') ? POOL_NAME : 'resilience.name',
      );
    }
    expect(new Set(entries.map(([, m]) => m.name)).size).toBe(entries.length);
  });

  it('gives every histogram, and only histograms, ascending positive bucket boundaries', () => {
    for (const [key, metric] of entries) {
      if (metric.kind !== 'histogram') {
        expect(metric.buckets, key).toBeUndefined();
        continue;
      }
      const buckets = metric.buckets ?? [];
      expect(buckets.length, key).toBeGreaterThan(5);
      expect(buckets[0], key).toBeGreaterThan(0);
      for (let i = 1; i < buckets.length; i++) expect(buckets[i]).toBeGreaterThan(buckets[i - 1]!);
    }
    expect(METRICS.dbConnectionWaitTime.buckets[0]).toBe(0.0001);
    expect(METRICS.dbConnectionWaitTime.buckets.at(-1)).toBe(10);
  });

  it('is documented in the README exactly as generated', () => {
    expect(readme).toContain(renderMetricsTable());
  });

  it('reports the package version as the instrumentation scope version', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    const { VERSION } = await import('../version.js');
    expect(VERSION).toBe(pkg.version);
  });
});

describe('recording catalogue instruments through the public API', () => {
  const otel = useTestTelemetry();

  /** How each kind is exported: data point type and, for sums, monotonicity. */
  const EXPORTED_AS: Record<MetricDefinition['kind'], object> = {
    counter: { dataPointType: DataPointType.SUM, isMonotonic: true },
    updowncounter: { dataPointType: DataPointType.SUM, isMonotonic: false },
    gauge: { dataPointType: DataPointType.GAUGE },
    histogram: { dataPointType: DataPointType.HISTOGRAM },
  };
  const allDeclared = (metric: MetricDefinition): Attributes =>
    Object.fromEntries(metric.attributes.map((a) => [a, `api-${a}`]));

  it('exports every instrument an adapter may record with its catalogue name, kind, unit and attributes', async () => {
    const readings = [];
    for (const [key, metric] of entries) {
      const attributes = allDeclared(metric);
      if (metric.kind === 'counter') counterSeries(key as CounterKey, attributes).add(2);
      else if (metric.kind === 'histogram') {
        if (key === 'callDuration' || key === 'attemptDuration') continue;
        recordHistogram(key as RecordableHistogramKey, 0.5, attributes);
      } else readings.push(observeReading(key as ReadingKey, attributes, () => 3));
    }
    const data = await otel.collect();
    for (const [key, metric] of entries) {
      if (key === 'callDuration' || key === 'attemptDuration') continue;
      const exported = data.find((m) => m.descriptor.name === metric.name);
      expect(exported?.descriptor, key).toMatchObject({
        unit: metric.unit,
        description: metric.description,
      });
      expect(exported as MetricData, key).toMatchObject(EXPORTED_AS[metric.kind]);
      const point = exported?.dataPoints.find(
        (p) => p.attributes[metric.attributes[0]!] === `api-${metric.attributes[0]}`,
      );
      expect(point?.attributes, key).toEqual(allDeclared(metric));
      if (metric.kind === 'histogram') {
        expect((exported as HistogramMetricData).dataPoints[0]?.value.buckets.boundaries).toEqual(
          metric.buckets,
        );
      } else {
        expect(point?.value, key).toBe(metric.kind === 'counter' ? 2 : 3);
      }
    }
    for (const reading of readings) reading.dispose();
  });

  it('adds to one process-wide series per attribute set, ignoring negative and non-finite amounts', async () => {
    const attributes = {
      'resilience.name': 'orders-db',
      'db.system.name': 'postgresql',
      'resilience.db.commit_outcome': 'committed',
    };
    const a = counterSeries('dbCommitVerifications', attributes);
    const b = counterSeries('dbCommitVerifications', { ...attributes });
    a.add();
    b.add(3);
    for (const n of [-1, Number.NaN, Number.POSITIVE_INFINITY]) a.add(n);
    const verifications = points(await otel.collect(), 'resilience.db.commit_verifications');
    expect(verifications.filter((p) => p.attributes['resilience.name'] === 'orders-db')).toEqual([
      { attributes, value: 4 },
    ]);
  });

  it('sums readings with equal attributes and reads them at each collection', async () => {
    const attributes = { [POOL_NAME]: 'reads', 'db.system.name': 'sqlite' };
    let pending = 1;
    const one = observeReading('dbConnectionPendingRequests', attributes, () => pending);
    const two = observeReading('dbConnectionPendingRequests', attributes, () => 10);
    expect(points(await otel.collect(), 'db.client.connection.pending_requests')).toEqual([
      { attributes, value: 11 },
    ]);
    pending = 4;
    expect(points(await otel.collect(), 'db.client.connection.pending_requests')).toEqual([
      { attributes, value: 14 },
    ]);
    one.dispose();
    two.dispose();
  });

  it('stops reading once disposed', async () => {
    const attributes = { [POOL_NAME]: 'gone', 'db.system.name': 'sqlite' };
    const kept = observeReading('dbConnectionMax', attributes, () => 1);
    const reading = observeReading('dbConnectionMax', attributes, () => 10);
    reading.dispose();
    reading.dispose();
    // (A cumulative SDK keeps exporting a series it saw once, so this SDK has not seen it yet.)
    expect(points(await otel.collect(), 'db.client.connection.max')).toEqual([
      { attributes, value: 1 },
    ]);
    kept.dispose();
  });

  it('leaves out a reading that throws or is not finite, reporting the throw on the diag logger only', async () => {
    const logger = captureDiag();
    const attributes = { [POOL_NAME]: 'faulty', 'db.system.name': 'sqlite' };
    const throwing = observeReading('dbConnectionMax', attributes, () => {
      throw new Error('pool gone');
    });
    const nan = observeReading('dbConnectionPendingRequests', attributes, () => Number.NaN);
    const fine = observeReading('dbConnectionMax', { ...attributes, [POOL_NAME]: 'fine' }, () => 5);
    const data = await otel.collect();
    diag.disable();
    expect(points(data, 'db.client.connection.max')).toEqual([
      { attributes: { [POOL_NAME]: 'fine', 'db.system.name': 'sqlite' }, value: 5 },
    ]);
    expect(points(data, 'db.client.connection.pending_requests')).toEqual([]);
    expect(logger.error).toHaveBeenCalledWith(
      'otel-resilience: a metric reading threw; it is left out of this collection',
      expect.any(Error),
    );
    for (const reading of [throwing, nan, fine]) reading.dispose();
  });

  it('rejects keys of the wrong kind, the policies’ own histograms and undeclared attributes', () => {
    const pool = { [POOL_NAME]: 'p', 'db.system.name': 'sqlite' };
    expect(() => counterSeries('dbConnectionMax' as CounterKey, pool)).toThrow(
      new TypeError('"dbConnectionMax" is not a counter of the metric catalogue'),
    );
    expect(() => observeReading('dbConnectionTimeouts' as ReadingKey, pool, () => 1)).toThrow(
      new TypeError(
        '"dbConnectionTimeouts" is not an up-down counter or gauge of the metric catalogue',
      ),
    );
    expect(() => recordHistogram('nope' as RecordableHistogramKey, 1, pool)).toThrow(
      new TypeError('"nope" is not a histogram of the metric catalogue'),
    );
    expect(() =>
      recordHistogram('callDuration' as RecordableHistogramKey, 1, { 'resilience.name': 'x' }),
    ).toThrow(new TypeError('"callDuration" is recorded by the policies only'));
    expect(() =>
      counterSeries('dbConnectionTimeouts', { ...pool, 'db.query.text': 'select 1' }),
    ).toThrow(
      new TypeError(
        'attribute "db.query.text" is not declared for db.client.connection.timeouts (declared: db.client.connection.pool.name, db.system.name)',
      ),
    );
    expect(() => recordHistogram('dbConnectionWaitTime', 1, { 'server.address': 'h' })).toThrow(
      /attribute "server.address" is not declared for db.client.connection.wait_time/,
    );
  });

  it('ignores negative and non-finite histogram values', async () => {
    const attributes = Object.freeze({ [POOL_NAME]: 'clock', 'db.system.name': 'sqlite' });
    for (const seconds of [-0.001, Number.NaN, Number.POSITIVE_INFINITY, 0.002]) {
      recordHistogram('dbConnectionWaitTime', seconds, attributes);
    }
    const wait = (await otel.collect()).find(
      (m) => m.descriptor.name === 'db.client.connection.wait_time',
    ) as HistogramMetricData;
    expect(wait.dataPoints.map((p) => [p.value.count, p.value.sum])).toEqual([[1, 0.002]]);
  });
});
