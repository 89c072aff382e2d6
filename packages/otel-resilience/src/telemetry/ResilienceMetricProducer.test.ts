import type { HistogramMetricData } from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it } from 'vitest';
import { timeout } from '../TimeoutPolicy.js';
import { installTestTelemetry, type TestTelemetry } from '../testing/otel.js';
import { ResilienceMetricProducer } from './ResilienceMetricProducer.js';

const results = [0.0004, 0.003, 0.003, 0.02, 0.2, 1.5, 12, 100];

async function histogramsAfterCalls(otel: TestTelemetry, name: string) {
  const policy = timeout(60_000, { name });
  for (const [i, value] of results.entries()) {
    await policy
      .execute(() => (i % 3 === 0 ? Promise.reject(new Error('x')) : value))
      .catch(() => {});
  }
  const data = await otel.collect();
  return data.filter((m) => m.descriptor.name.endsWith('.duration')) as HistogramMetricData[];
}

describe('ResilienceMetricProducer', () => {
  let otel: TestTelemetry | undefined;
  let producer: ResilienceMetricProducer | undefined;
  afterEach(async () => {
    await producer?.shutdown();
    await otel?.uninstall();
    producer = undefined;
    otel = undefined;
  });

  it('exports the same series, counts and descriptors as the SDK histograms', async () => {
    otel = installTestTelemetry();
    const viaSdk = await histogramsAfterCalls(otel, 'mode-compare');
    await otel.uninstall();

    producer = new ResilienceMetricProducer();
    otel = installTestTelemetry({ metricProducers: [producer] });
    const viaProducer = await histogramsAfterCalls(otel, 'mode-compare');

    const summary = (metrics: HistogramMetricData[]) =>
      metrics
        .map((m) => ({
          name: m.descriptor.name,
          unit: m.descriptor.unit,
          valueType: m.descriptor.valueType,
          dataPointType: m.dataPointType,
          temporality: m.aggregationTemporality,
          points: m.dataPoints
            .filter((p) => p.attributes['resilience.name'] === 'mode-compare')
            .map((p) => ({
              attributes: p.attributes,
              count: p.value.count,
              boundaries: p.value.buckets.boundaries,
              bucketTotal: p.value.buckets.counts.reduce((a, b) => a + b, 0),
            }))
            .sort((a, b) =>
              JSON.stringify(a.attributes).localeCompare(JSON.stringify(b.attributes)),
            ),
        }))
        .sort((a, b) => a.name.localeCompare(b.name));
    expect(summary(viaProducer)).toEqual(summary(viaSdk));
    expect(summary(viaProducer)[0]?.points.length).toBeGreaterThan(0);
  });

  it('buckets values exactly like the SDK (upper-inclusive boundaries)', async () => {
    const { LocalHistogram, LOCAL_HISTOGRAM_BOUNDARIES } = await import('./LocalHistogram.js');
    const h = new LocalHistogram();
    for (const v of [0.001, 0.0010001, 0, 60, 61]) h.record(v);
    expect(h.counts[0]).toBe(2);
    expect(h.counts[1]).toBe(1);
    expect(h.counts[LOCAL_HISTOGRAM_BOUNDARIES.length - 1]).toBe(1);
    expect(h.counts[LOCAL_HISTOGRAM_BOUNDARIES.length]).toBe(1);
    expect([h.count, h.min, h.max]).toEqual([5, 0, 61]);
  });

  it('goes back to SDK recording after shutdown', async () => {
    producer = new ResilienceMetricProducer();
    await producer.shutdown();
    otel = installTestTelemetry();
    await timeout(1_000, { name: 'after-shutdown' }).execute(() => 1);
    const data = await otel.collect();
    const call = data.find((m) => m.descriptor.name === 'resilience.call.duration');
    expect(call?.dataPoints.map((p) => p.attributes['resilience.name'])).toContain(
      'after-shutdown',
    );
  });
});
