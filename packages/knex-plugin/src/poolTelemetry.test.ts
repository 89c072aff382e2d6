import { diag } from '@opentelemetry/api';
import {
  DataPointType,
  type HistogramMetricData,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import knexFactory, { type Knex } from 'knex';
import { DB_CONNECTION_WAIT_BUCKETS_SECONDS, type Disposable } from 'otel-resilience';
import { captureDiag, points, useTestTelemetry } from 'otel-resilience/testing';
import { afterEach, expect, it, vi } from 'vitest';
import { attachPoolTelemetry } from './poolTelemetry.js';
import { describeDatabase, POSTGRES, SQLITE } from './testing/databases.js';

const POOL_NAME = 'db.client.connection.pool.name';
// Knex logs every failed acquire on its logger; the tests assert the errors themselves.
const quiet = { warn: () => {}, error: () => {}, deprecate: () => {}, debug: () => {} };

let poolCount = 0;
/** Counter series are process-wide per pool name, so each test names its pool afresh. */
const uniquePoolName = (label: string) => `${label}-${++poolCount}`;

/** The points of metric `name` for pool `poolName`. */
const pointsOf = (data: MetricData[], name: string, poolName: string) =>
  points(data, name).filter((p) => p.attributes[POOL_NAME] === poolName);

/** The one `db.client.connection.wait_time` point of `poolName`, if any. */
const waitTimeOf = (data: MetricData[], poolName: string) => {
  const metric = data.find((m) => m.descriptor.name === 'db.client.connection.wait_time') as
    | HistogramMetricData
    | undefined;
  return metric?.dataPoints.find((p) => p.attributes[POOL_NAME] === poolName);
};

/** The pool gauges of `poolName`: count by state, pending requests and max. */
const gaugesOf = (data: MetricData[], poolName: string) => ({
  used: pointsOf(data, 'db.client.connection.count', poolName).find(
    (p) => p.attributes['db.client.connection.state'] === 'used',
  )?.value,
  idle: pointsOf(data, 'db.client.connection.count', poolName).find(
    (p) => p.attributes['db.client.connection.state'] === 'idle',
  )?.value,
  pending: pointsOf(data, 'db.client.connection.pending_requests', poolName)[0]?.value,
  max: pointsOf(data, 'db.client.connection.max', poolName)[0]?.value,
});

/** How metric `name` is exported: unit, data point type and, for sums, monotonicity. */
const shapeOf = (data: MetricData[], name: string) => {
  const metric = data.find((m) => m.descriptor.name === name);
  if (metric === undefined) return undefined;
  return {
    unit: metric.descriptor.unit,
    dataPointType: metric.dataPointType,
    ...(metric.dataPointType === DataPointType.SUM ? { monotonic: metric.isMonotonic } : {}),
  };
};
const UP_DOWN = { dataPointType: DataPointType.SUM, monotonic: false };

/** Resolves once `condition()` holds, polling every 5 ms (fails after `timeoutMs`). */
async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Opens Knex instances and attachments for one test and closes them after it. */
function useKnex() {
  const opened: Knex[] = [];
  const attachments: Disposable[] = [];
  afterEach(async () => {
    for (const attachment of attachments.splice(0)) attachment.dispose();
    await Promise.all(opened.splice(0).map((db) => db.destroy()));
  });
  return {
    open(config: Knex.Config): Knex {
      const db = knexFactory({ ...config, log: quiet });
      opened.push(db);
      return db;
    },
    attach(...args: Parameters<typeof attachPoolTelemetry>): Disposable {
      const attachment = attachPoolTelemetry(...args);
      attachments.push(attachment);
      return attachment;
    },
  };
}

/** The pool Knex created (typed loosely: tarn's is not ours to import). */
const poolOf = (db: Knex) =>
  db.client.pool as {
    numUsed(): number;
    numPendingAcquires(): number;
    destroy(): Promise<unknown>;
    emitter: { listenerCount(event: string): number };
  };

await describeDatabase(SQLITE, 'attachPoolTelemetry', () => {
  const otel = useTestTelemetry();
  const knex = useKnex();
  afterEach(() => {
    vi.useRealTimers();
    diag.disable();
  });

  const sqlite = (pool: Knex.PoolConfig = {}) => SQLITE.config({ min: 0, max: 1, ...pool });

  it('reports connections by state, pending requests and max, read from the pool at collection time', async () => {
    const poolName = uniquePoolName('gauges');
    const db = knex.open(sqlite());
    knex.attach(db, { poolName, dbSystem: 'sqlite' });

    const trx = await db.transaction();
    // Knex builders run when awaited; then() starts the query now.
    const blocked = db.raw('select 1 as x').then((rows) => rows);
    await until(() => poolOf(db).numPendingAcquires() === 1);
    const busy = await otel.collect();
    expect(gaugesOf(busy, poolName)).toEqual({ used: 1, idle: 0, pending: 1, max: 1 });
    const attributes = { [POOL_NAME]: poolName, 'db.system.name': 'sqlite' };
    expect(pointsOf(busy, 'db.client.connection.count', poolName)).toEqual([
      { attributes: { ...attributes, 'db.client.connection.state': 'used' }, value: 1 },
      { attributes: { ...attributes, 'db.client.connection.state': 'idle' }, value: 0 },
    ]);
    expect(pointsOf(busy, 'db.client.connection.pending_requests', poolName)).toEqual([
      { attributes, value: 1 },
    ]);
    expect(pointsOf(busy, 'db.client.connection.max', poolName)).toEqual([
      { attributes, value: 1 },
    ]);
    expect(shapeOf(busy, 'db.client.connection.count')).toEqual({
      ...UP_DOWN,
      unit: '{connection}',
    });
    expect(shapeOf(busy, 'db.client.connection.max')).toEqual({ ...UP_DOWN, unit: '{connection}' });
    expect(shapeOf(busy, 'db.client.connection.pending_requests')).toEqual({
      ...UP_DOWN,
      unit: '{request}',
    });

    await trx.commit();
    expect(await blocked).toEqual([{ x: 1 }]);
    expect(gaugesOf(await otel.collect(), poolName)).toEqual({
      used: 0,
      idle: 1,
      pending: 0,
      max: 1,
    });
  });

  it('records the wait of every acquire that got a connection, on a monotonic clock', async () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const poolName = uniquePoolName('wait');
    const db = knex.open(sqlite());
    knex.attach(db, { poolName, dbSystem: 'sqlite' });

    const trx = await db.transaction();
    const blocked = db.raw('select 1 as x').then((rows) => rows);
    await until(() => poolOf(db).numPendingAcquires() === 1);
    vi.advanceTimersByTime(250);
    await trx.commit();
    await blocked;

    const data = await otel.collect();
    const wait = waitTimeOf(data, poolName);
    expect(wait?.attributes).toEqual({ [POOL_NAME]: poolName, 'db.system.name': 'sqlite' });
    expect(wait?.value).toMatchObject({ count: 2, sum: 0.25, min: 0, max: 0.25 });
    expect(wait?.value.buckets.boundaries).toEqual(DB_CONNECTION_WAIT_BUCKETS_SECONDS);
    expect(shapeOf(data, 'db.client.connection.wait_time')).toEqual({
      unit: 's',
      dataPointType: DataPointType.HISTOGRAM,
    });
  });

  it("counts an acquire that timed out and lets Knex's timeout error through", async () => {
    const poolName = uniquePoolName('timeout');
    const db = knex.open(sqlite({ acquireTimeoutMillis: 50 }));
    knex.attach(db, { poolName, dbSystem: 'sqlite' });

    const trx = await db.transaction();
    await expect(db.raw('select 1')).rejects.toMatchObject({
      name: 'KnexTimeoutError',
      message: expect.stringContaining('Timeout acquiring a connection'),
    });
    await trx.commit();

    const data = await otel.collect();
    expect(pointsOf(data, 'db.client.connection.timeouts', poolName)).toEqual([
      { attributes: { [POOL_NAME]: poolName, 'db.system.name': 'sqlite' }, value: 1 },
    ]);
    expect(shapeOf(data, 'db.client.connection.timeouts')).toEqual({
      unit: '{timeout}',
      dataPointType: DataPointType.SUM,
      monotonic: true,
    });
    // Only the transaction's acquire got a connection.
    expect(waitTimeOf(data, poolName)?.value.count).toBe(1);
  });

  it('counts a pool-exhaustion warning once per upward crossing of the threshold', async () => {
    const logger = captureDiag();
    const poolName = uniquePoolName('exhaustion');
    const db = knex.open(sqlite({ max: 2 }));
    knex.attach(db, { poolName, dbSystem: 'sqlite', exhaustionThreshold: 1 });
    const warnings = async () =>
      pointsOf(await otel.collect(), 'resilience.db.pool.exhaustion_warnings', poolName)[0]?.value;

    const fill = async () => {
      const first = await db.transaction();
      const second = await db.transaction();
      await Promise.all([first.commit(), second.commit()]);
    };
    await fill();
    expect(await warnings()).toBe(1);
    await fill(); // the first acquire of each round finds 1 of 2 in use: re-armed
    expect(await warnings()).toBe(2);
    expect(logger.warn).toHaveBeenCalledWith(
      `otel-resilience: connection pool "${poolName}" near exhaustion: 2/2 connections in use`,
    );
    expect(logger.warn).toHaveBeenCalledTimes(2);
  });

  it('attaches to the pool of a Knex made without a connection once it is initialized', async () => {
    const poolName = uniquePoolName('lazy');
    const db = knex.open({ client: 'better-sqlite3', useNullAsDefault: true });
    expect(db.client.pool).toBeUndefined();
    knex.attach(db, { poolName, dbSystem: 'sqlite' });
    expect(gaugesOf(await otel.collect(), poolName).max).toBeUndefined();

    db.initialize(sqlite({ max: 3 }));
    expect(gaugesOf(await otel.collect(), poolName)).toEqual({
      used: 0,
      idle: 0,
      pending: 0,
      max: 3,
    });
  });

  it('stops reporting a destroyed pool and follows the pool knex.initialize() makes next', async () => {
    const poolName = uniquePoolName('lifecycle');
    const db = knex.open(sqlite());
    knex.attach(db, { poolName, dbSystem: 'sqlite' });
    await db.raw('select 1');
    const first = poolOf(db);
    await db.destroy();
    expect(first.emitter.listenerCount('acquireRequest')).toBe(0);
    // First collection of this test's SDK (a cumulative SDK keeps a series it once saw), so any
    // series still registered would show here.
    expect(gaugesOf(await otel.collect(), poolName)).toEqual({
      used: undefined,
      idle: undefined,
      pending: undefined,
      max: undefined,
    });

    db.initialize();
    await db.raw('select 1');
    const data = await otel.collect();
    expect(gaugesOf(data, poolName)).toEqual({ used: 0, idle: 1, pending: 0, max: 1 });
    expect(waitTimeOf(data, poolName)?.value.count).toBe(2);

    // A pool destroyed behind Knex's back is let go too.
    await poolOf(db).destroy();
    expect(poolOf(db).emitter.listenerCount('acquireSuccess')).toBe(0);
  });

  it('detaches on dispose: listeners removed, gauges gone, client methods restored', async () => {
    const poolName = uniquePoolName('disposed');
    const db = knex.open(sqlite());
    const attachment = knex.attach(db, { poolName, dbSystem: 'sqlite' });
    expect(Object.hasOwn(db.client, 'initializePool')).toBe(true);
    attachment.dispose();
    attachment.dispose();
    expect(Object.hasOwn(db.client, 'initializePool')).toBe(false);
    expect(Object.hasOwn(db.client, 'destroy')).toBe(false);
    expect(poolOf(db).emitter.listenerCount('acquireRequest')).toBe(0);
    await db.raw('select 1');
    const data = await otel.collect();
    expect(gaugesOf(data, poolName).max).toBeUndefined();
    expect(waitTimeOf(data, poolName)).toBeUndefined();

    // Attaching again after dispose is allowed.
    knex.attach(db, { poolName, dbSystem: 'sqlite' });
    expect(gaugesOf(await otel.collect(), poolName).max).toBe(1);
  });

  it('rejects invalid options naming them, and a second attachment to one Knex', () => {
    const db = knex.open({ client: 'better-sqlite3', useNullAsDefault: true });
    expect(() => knex.attach(db, { poolName: '', dbSystem: 'sqlite' })).toThrow(
      new TypeError('poolName must be a non-empty string of at most 128 characters, got ""'),
    );
    expect(() => knex.attach(db, { poolName: 'p', dbSystem: 7 as unknown as string })).toThrow(
      new TypeError('dbSystem must be a non-empty string of at most 128 characters, got 7'),
    );
    expect(() =>
      knex.attach(db, { poolName: 'p', dbSystem: 'sqlite', exhaustionThreshold: 0 }),
    ).toThrow(new TypeError('exhaustionThreshold must be a number in (0, 1], got 0'));
    knex.attach(db, { poolName: 'p', dbSystem: 'sqlite' });
    expect(() => knex.attach(db, { poolName: 'q', dbSystem: 'sqlite' })).toThrow(
      'pool telemetry is already attached to this knex instance; dispose it before attaching "q"',
    );
  });
});

await describeDatabase(POSTGRES, 'pool telemetry', () => {
  const otel = useTestTelemetry();
  const knex = useKnex();
  afterEach(() => diag.disable());

  it('reports a saturated pool: used, pending, waits, exhaustion warnings', async () => {
    const logger = captureDiag();
    const poolName = uniquePoolName('pg');
    const db = knex.open(POSTGRES.config({ min: 0, max: 2 }));
    knex.attach(db, { poolName, dbSystem: 'postgresql' });
    const attributes = { [POOL_NAME]: poolName, 'db.system.name': 'postgresql' };
    // Knex builders run when awaited; then() starts the query now.
    const sleep = () => db.raw('select pg_sleep(0.2)').then(() => undefined);

    const running = [sleep(), sleep(), sleep()];
    await until(() => poolOf(db).numUsed() === 2 && poolOf(db).numPendingAcquires() === 1);
    expect(gaugesOf(await otel.collect(), poolName)).toEqual({
      used: 2,
      idle: 0,
      pending: 1,
      max: 2,
    });
    await Promise.all(running);

    const data = await otel.collect();
    expect(gaugesOf(data, poolName)).toEqual({ used: 0, idle: 2, pending: 0, max: 2 });
    const wait = waitTimeOf(data, poolName);
    expect(wait?.attributes).toEqual(attributes);
    expect(wait?.value.count).toBe(3);
    // The third query waited for one of the first two to finish its 0.2 s sleep.
    expect(wait?.value.max).toBeGreaterThanOrEqual(0.15);
    expect(pointsOf(data, 'resilience.db.pool.exhaustion_warnings', poolName)).toEqual([
      { attributes, value: 1 },
    ]);
    expect(logger.warn).toHaveBeenCalledWith(
      `otel-resilience: connection pool "${poolName}" near exhaustion: 2/2 connections in use`,
    );

    await db.raw('select 1'); // 1 of 2 in use: below 80%, re-armed
    await Promise.all([sleep(), sleep()]);
    expect(
      pointsOf(await otel.collect(), 'resilience.db.pool.exhaustion_warnings', poolName),
    ).toEqual([{ attributes, value: 2 }]);
  });

  it('counts an acquire timeout and surfaces the rejection', async () => {
    const poolName = uniquePoolName('pg-timeout');
    const db = knex.open(POSTGRES.config({ min: 0, max: 1, acquireTimeoutMillis: 100 }));
    knex.attach(db, { poolName, dbSystem: 'postgresql' });

    const trx = await db.transaction();
    await expect(db.raw('select 1')).rejects.toMatchObject({ name: 'KnexTimeoutError' });
    await trx.commit();
    const data = await otel.collect();
    expect(pointsOf(data, 'db.client.connection.timeouts', poolName)).toEqual([
      { attributes: { [POOL_NAME]: poolName, 'db.system.name': 'postgresql' }, value: 1 },
    ]);
    expect(waitTimeOf(data, poolName)?.value.count).toBe(1);
  });
});
