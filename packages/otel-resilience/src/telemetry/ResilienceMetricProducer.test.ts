import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HistogramMetricData } from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it } from 'vitest';
import { InboundGuard } from '../http/InboundGuard.js';
import { timeout } from '../TimeoutPolicy.js';
import { installTestTelemetry, type TestTelemetry } from '../testing/otel.js';
import {
  DB_CONNECTION_WAIT_BUCKETS_SECONDS,
  DURATION_BUCKETS_SECONDS,
  HTTP_DURATION_BUCKETS_SECONDS,
} from './catalogue.js';
import { LocalHistogram } from './LocalHistogram.js';
import { recordHistogram } from './metrics.js';
import { ResilienceMetricProducer } from './ResilienceMetricProducer.js';

const results = [0.0004, 0.003, 0.003, 0.02, 0.2, 1.5, 12, 100];
const POOL = Object.freeze({
  'db.client.connection.pool.name': 'mode-compare',
  'db.system.name': 'postgresql',
});

/** Every kind of histogram: the policies' durations, a middleware's and an adapter's. */
async function histogramsAfterCalls(otel: TestTelemetry, name: string) {
  const policy = timeout(60_000, { name });
  for (const [i, value] of results.entries()) {
    await policy
      .execute(() => (i % 3 === 0 ? Promise.reject(new Error('x')) : value))
      .catch(() => {});
    recordHistogram('dbConnectionWaitTime', value, POOL);
  }
  const guard = new InboundGuard({ name, serverMetrics: true });
  const server = createServer((req, res) => {
    const request = guard.begin(req, res);
    request.route = '/compare/:id';
    request.run(() => res.end('ok'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/compare/1`;
  for (let i = 0; i < 3; i++) await (await fetch(url)).text();
  server.close();
  guard.dispose();
  const data = await otel.collect();
  return data.filter(
    (m) => m.descriptor.name.endsWith('.duration') || m.descriptor.name.endsWith('wait_time'),
  ) as HistogramMetricData[];
}

/** Whether a data point belongs to this test's instruments. */
const ours = (attributes: Record<string, unknown>) =>
  attributes['resilience.name'] === 'mode-compare' ||
  attributes['db.client.connection.pool.name'] === 'mode-compare' ||
  attributes['http.route'] === '/compare/:id';

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
            .filter((p) => ours(p.attributes))
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
    expect(
      summary(viaProducer).map((m) => [m.name, m.points.length > 0, m.points[0]?.boundaries]),
    ).toEqual([
      ['db.client.connection.wait_time', true, DB_CONNECTION_WAIT_BUCKETS_SECONDS],
      ['http.server.request.duration', true, HTTP_DURATION_BUCKETS_SECONDS],
      ['resilience.attempt.duration', true, DURATION_BUCKETS_SECONDS],
      ['resilience.call.duration', true, DURATION_BUCKETS_SECONDS],
    ]);
  });

  it('buckets values exactly like the SDK (upper-inclusive boundaries)', () => {
    const boundaries = DURATION_BUCKETS_SECONDS;
    const h = new LocalHistogram(boundaries);
    for (const v of [0.001, 0.0010001, 0, 60, 61]) h.record(v);
    expect(h.counts[0]).toBe(2);
    expect(h.counts[1]).toBe(1);
    expect(h.counts[boundaries.length - 1]).toBe(1);
    expect(h.counts[boundaries.length]).toBe(1);
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
