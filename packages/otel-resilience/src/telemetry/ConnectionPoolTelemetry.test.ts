import { diag } from '@opentelemetry/api';
import type { HistogramMetricData, MetricData } from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it } from 'vitest';
import { captureDiag, points, useTestTelemetry } from '../testing/otel.js';
import {
  type ConnectionPoolState,
  ConnectionPoolTelemetry,
  type ConnectionPoolTelemetryOptions,
} from './ConnectionPoolTelemetry.js';
import { DB_CONNECTION_WAIT_BUCKETS_SECONDS } from './catalogue.js';

// Counter series are process-wide per pool name, so tests that count use a pool name of their own.
const attributesOf = (poolName: string) => ({
  'db.client.connection.pool.name': poolName,
  'db.system.name': 'postgresql',
});
const POOL = attributesOf('orders');

/** The points of metric `name` for the pool named `poolName` (default: `orders`). */
const pointsOf = (data: MetricData[], name: string, poolName = 'orders') =>
  points(data, name).filter((p) => p.attributes['db.client.connection.pool.name'] === poolName);

describe('ConnectionPoolTelemetry', () => {
  const otel = useTestTelemetry();
  const made: ConnectionPoolTelemetry[] = [];
  let state: ConnectionPoolState = { used: 0, idle: 0, pending: 0 };
  const make = (options: Partial<ConnectionPoolTelemetryOptions> = {}) => {
    const telemetry = new ConnectionPoolTelemetry({
      poolName: 'orders',
      dbSystem: 'postgresql',
      max: 10,
      source: () => state,
      ...options,
    });
    made.push(telemetry);
    return telemetry;
  };
  afterEach(() => {
    for (const telemetry of made.splice(0)) telemetry.dispose();
    state = { used: 0, idle: 0, pending: 0 };
    diag.disable();
  });

  it('reports count by state, max and pending requests as read from the source at collection time', async () => {
    make();
    state = { used: 3, idle: 2, pending: 1 };
    const first = await otel.collect();
    expect(points(first, 'db.client.connection.count')).toEqual([
      { attributes: { ...POOL, 'db.client.connection.state': 'used' }, value: 3 },
      { attributes: { ...POOL, 'db.client.connection.state': 'idle' }, value: 2 },
    ]);
    expect(points(first, 'db.client.connection.max')).toEqual([{ attributes: POOL, value: 10 }]);
    expect(points(first, 'db.client.connection.pending_requests')).toEqual([
      { attributes: POOL, value: 1 },
    ]);
    const units = Object.fromEntries(first.map((m) => [m.descriptor.name, m.descriptor.unit]));
    expect(units).toMatchObject({
      'db.client.connection.count': '{connection}',
      'db.client.connection.max': '{connection}',
      'db.client.connection.pending_requests': '{request}',
    });

    state = { used: 0, idle: 5, pending: 0 };
    expect(points(await otel.collect(), 'db.client.connection.count')).toEqual([
      { attributes: { ...POOL, 'db.client.connection.state': 'used' }, value: 0 },
      { attributes: { ...POOL, 'db.client.connection.state': 'idle' }, value: 5 },
    ]);
  });

  it('records waits in seconds with the pool buckets and counts timeouts', async () => {
    const POOL = attributesOf('timing');
    const telemetry = make({ poolName: 'timing' });
    telemetry.recordWait(0.00005);
    telemetry.recordWait(0.2);
    telemetry.countTimeout();
    telemetry.countTimeout();
    const data = await otel.collect();
    const wait = data.find(
      (m) => m.descriptor.name === 'db.client.connection.wait_time',
    ) as HistogramMetricData;
    expect(wait.descriptor.unit).toBe('s');
    expect(wait.dataPoints).toHaveLength(1);
    expect(wait.dataPoints[0]?.attributes).toEqual(POOL);
    expect(wait.dataPoints[0]?.value).toMatchObject({ count: 2, sum: 0.20005, min: 0.00005 });
    expect(wait.dataPoints[0]?.value.buckets.boundaries).toEqual(
      DB_CONNECTION_WAIT_BUCKETS_SECONDS,
    );
    expect(pointsOf(data, 'db.client.connection.timeouts', 'timing')).toEqual([
      { attributes: POOL, value: 2 },
    ]);
    expect(
      data.find((m) => m.descriptor.name === 'db.client.connection.timeouts')?.descriptor.unit,
    ).toBe('{timeout}');
  });

  it('warns once per upward crossing of 80% of max, re-armed by a check below it', async () => {
    const logger = captureDiag();
    const POOL = attributesOf('busy');
    const telemetry = make({ poolName: 'busy' });
    for (const used of [1, 7, 8, 9, 10, 8, 7, 9, 10, 3, 8]) telemetry.checkExhaustion(used);
    const data = await otel.collect();
    expect(pointsOf(data, 'resilience.db.pool.exhaustion_warnings', 'busy')).toEqual([
      { attributes: POOL, value: 3 },
    ]);
    expect(
      data.find((m) => m.descriptor.name === 'resilience.db.pool.exhaustion_warnings')?.descriptor
        .unit,
    ).toBe('{warning}');
    expect(logger.warn.mock.calls).toEqual([
      ['otel-resilience: connection pool "busy" near exhaustion: 8/10 connections in use'],
      ['otel-resilience: connection pool "busy" near exhaustion: 9/10 connections in use'],
      ['otel-resilience: connection pool "busy" near exhaustion: 8/10 connections in use'],
    ]);
  });

  it('takes a custom threshold: 1 warns only when every connection is in use', async () => {
    const POOL = attributesOf('full');
    const telemetry = make({ poolName: 'full', max: 3, exhaustionThreshold: 1 });
    expect(telemetry.exhaustionThreshold).toBe(1);
    for (const used of [2, 3, 2, 3]) telemetry.checkExhaustion(used);
    expect(
      pointsOf(await otel.collect(), 'resilience.db.pool.exhaustion_warnings', 'full'),
    ).toEqual([{ attributes: POOL, value: 2 }]);
  });

  it('stops its gauges when disposed, while the counters keep their totals for the pool name', async () => {
    const POOL = attributesOf('recreated');
    const telemetry = make({ poolName: 'recreated' });
    telemetry.countTimeout();
    telemetry.dispose();
    telemetry.dispose();
    telemetry.countTimeout();
    telemetry.checkExhaustion(10);
    // Disposed before this test's SDK first collected (a cumulative SDK keeps a series it saw).
    const data = await otel.collect();
    for (const gauge of ['count', 'max', 'pending_requests']) {
      expect(pointsOf(data, `db.client.connection.${gauge}`, 'recreated')).toEqual([]);
    }
    expect(pointsOf(data, 'db.client.connection.timeouts', 'recreated')).toEqual([
      { attributes: POOL, value: 1 },
    ]);
    expect(pointsOf(data, 'resilience.db.pool.exhaustion_warnings', 'recreated')).toEqual([
      { attributes: POOL, value: 0 },
    ]);

    // The pool re-created under the same name continues the counter.
    make({ poolName: 'recreated' }).countTimeout();
    expect(pointsOf(await otel.collect(), 'db.client.connection.timeouts', 'recreated')).toEqual([
      { attributes: POOL, value: 2 },
    ]);
  });

  it('sums the gauges of pools sharing a name', async () => {
    make({ max: 4, source: () => ({ used: 1, idle: 1, pending: 0 }) });
    make({ max: 6, source: () => ({ used: 2, idle: 0, pending: 3 }) });
    const data = await otel.collect();
    expect(points(data, 'db.client.connection.max')).toEqual([{ attributes: POOL, value: 10 }]);
    expect(points(data, 'db.client.connection.pending_requests')).toEqual([
      { attributes: POOL, value: 3 },
    ]);
  });

  it('rejects invalid options naming them', () => {
    expect(() => make({ poolName: '' })).toThrow(
      new TypeError('poolName must be a non-empty string of at most 128 characters, got ""'),
    );
    expect(() => make({ poolName: 'x'.repeat(129) })).toThrow(/^poolName must be/);
    expect(() => make({ dbSystem: undefined as unknown as string })).toThrow(
      new TypeError('dbSystem must be a non-empty string of at most 128 characters, got undefined'),
    );
    expect(() => make({ max: 0 })).toThrow(new TypeError('max must be an integer >= 1, got 0'));
    expect(() => make({ max: 2.5 })).toThrow(new TypeError('max must be an integer >= 1, got 2.5'));
    for (const exhaustionThreshold of [0, 1.5, Number.NaN]) {
      expect(() => make({ exhaustionThreshold })).toThrow(
        new TypeError(`exhaustionThreshold must be a number in (0, 1], got ${exhaustionThreshold}`),
      );
    }
    expect(() => make({ source: undefined as unknown as () => ConnectionPoolState })).toThrow(
      new TypeError('source must be a function, got undefined'),
    );
    expect(() =>
      ConnectionPoolTelemetry.checkIdentity({ poolName: 'p', dbSystem: 'sqlite' }),
    ).not.toThrow();
    expect(() =>
      ConnectionPoolTelemetry.checkIdentity(
        null as unknown as { poolName: string; dbSystem: string },
      ),
    ).toThrow(new TypeError('options must be an object, got null'));
  });
});
