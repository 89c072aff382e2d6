import knexFactory, { type Knex } from 'knex';
import { points, useTestTelemetry } from 'otel-resilience/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ALL_DATABASES, describeDatabase, SQLITE } from './testing/databases.js';
import { type ResilientKnex, withResilience } from './withResilience.js';

for (const target of ALL_DATABASES) {
  await describeDatabase(target, 'withResilience', () => {
    let db: ResilientKnex;
    const table = `wr_${Math.random().toString(36).slice(2, 8)}`;

    beforeEach(async () => {
      db = withResilience(knexFactory(target.config()));
      await db.schema.createTable(table, (t) => {
        t.integer('id').primary();
        t.string('name');
      });
    });

    afterEach(async () => {
      await db.schema.dropTableIfExists(table);
      await db.destroy();
    });

    it('runs builders, raw queries and transactions as plain Knex does', async () => {
      await db(table).insert([
        { id: 1, name: 'a' },
        { id: 2, name: 'b' },
      ]);
      const committed = await db.transaction(async (trx) => {
        await trx(table).insert({ id: 3, name: 'c' });
        return trx(table).count({ n: '*' }).first();
      });
      expect(Number(committed?.n)).toBe(3);
      await expect(
        db.transaction(async (trx) => {
          await trx(table).insert({ id: 4, name: 'd' });
          throw new Error('changed my mind');
        }),
      ).rejects.toThrow('changed my mind');
      const rows = await db(table).select('id').orderBy('id');
      expect(rows.map((r) => r.id)).toEqual([1, 2, 3]);
      const raw = await db.raw('select 1 as one');
      expect(raw).toBeDefined();
    });

    it('does not retry data errors: a duplicate key fails once, the row stays single', async () => {
      await db(table).insert({ id: 1, name: 'a' });
      let queries = 0;
      db.on('query', () => queries++);
      await expect(db(table).insert({ id: 1, name: 'again' })).rejects.toThrow();
      expect(queries).toBe(1);
      expect(await db(table).where({ id: 1 }).select('name')).toEqual([{ name: 'a' }]);
    });

    it('offers atomicUpdate and safeBulkInsert on the instance', async () => {
      await db.schema.alterTable(table, (t) => t.integer('version').notNullable().defaultTo(0));
      const { inserted, failed } = await db.safeBulkInsert(table, [
        { id: 1, name: 'a' },
        { id: 1, name: 'duplicate' },
      ]);
      expect([inserted, failed.map((f) => f.index)]).toEqual([1, [1]]);
      const row = await db.atomicUpdate<{ id: number; name: string; version: number }>(
        table,
        { id: 1 },
        (current) => ({ name: `${current.name}!` }),
        { versionColumn: 'version' },
      );
      expect(row).toMatchObject({ id: 1, name: 'a!', version: 1 });
    });

    it('gives Knex its transaction provider back when called without a callback', async () => {
      const trx = await db.transaction();
      await trx(table).insert({ id: 7, name: 'x' });
      await trx.commit();
      expect(await db(table).pluck('id')).toEqual([7]);
    });
  });
}

await describeDatabase(SQLITE, 'withResilience options', () => {
  let plain: Knex;
  beforeEach(() => {
    plain = knexFactory(SQLITE.config());
  });
  afterEach(async () => {
    await plain.destroy();
  });

  it.each([
    [{ name: '' }, /name must be a non-empty string/],
    [{ retry: 3 }, /retry must be an object or false/],
    [{ retry: { name: 'x' } }, /retry.name is set by the plugin/],
    [
      { circuitBreaker: { isFailure: () => true } },
      /circuitBreaker.isFailure is set by the plugin/,
    ],
    [{ verifyCommits: 'yes' }, /verifyCommits must be a boolean/],
    [
      { validateOnAcquire: { timeoutMs: 0 } },
      /validateOnAcquire.timeoutMs must be a positive number/,
    ],
    [
      { poolTelemetry: { exhaustionThreshold: 1.5 } },
      /exhaustionThreshold must be a number in \(0, 1\]/,
    ],
    [{ rules: [1] }, /rules must be an array of functions/],
    [{ retries: 3 }, /unknown option "retries"/],
  ])('rejects %j naming the option', (options, message) => {
    expect(() => withResilience(plain, options as never)).toThrow(message);
  });

  it('runs queries and transactions with retries and the breaker both off', async () => {
    const db = withResilience(plain, {
      retry: false,
      transactionRetry: false,
      circuitBreaker: false,
    });
    expect(await db.raw('select 1 as one')).toEqual([{ one: 1 }]);
    expect(await db.transaction(async (trx) => trx.raw('select 2 as two'))).toEqual([{ two: 2 }]);
    expect(db.resilience.breaker).toBeUndefined();
  });

  it('rejects what is not a Knex instance, and a second enable', () => {
    expect(() => withResilience({} as never)).toThrow(/needs a Knex instance/);
    withResilience(plain);
    expect(() => withResilience(plain)).toThrow(/already has the plugin enabled/);
  });

  it('rejects a transaction without a callback function or with a bad config', async () => {
    const db = withResilience(plain);
    await expect(db.transaction('nope' as never)).rejects.toThrow(/needs a callback function/);
    await expect(db.transaction(async () => 1, { maxAttempts: 0 })).rejects.toThrow(
      /maxAttempts must be an integer ≥ 1/,
    );
    await expect(
      db.transaction(async () => 1, { isolationLevel: 'chaos' as never }),
    ).rejects.toThrow(/isolationLevel must be one of/);
  });

  describe('pool telemetry', () => {
    const telemetry = useTestTelemetry();

    it('reports the pool under poolName by default', async () => {
      const db = withResilience(plain, { name: 'orders-db' });
      await db.raw('select 1');
      expect(points(await telemetry.collect(), 'db.client.connection.max')).toEqual([
        {
          attributes: { 'db.client.connection.pool.name': 'orders-db', 'db.system.name': 'sqlite' },
          value: 1,
        },
      ]);
    });

    it('reports nothing with poolTelemetry: false', async () => {
      const db = withResilience(plain, { name: 'quiet-db', poolTelemetry: false });
      await db.raw('select 1');
      const pools = points(await telemetry.collect(), 'db.client.connection.max');
      expect(
        pools.filter((p) => p.attributes['db.client.connection.pool.name'] === 'quiet-db'),
      ).toEqual([]);
    });
  });

  it('dispose() restores plain Knex', async () => {
    const db = withResilience(plain);
    const transaction = db.transaction;
    db.resilience.dispose();
    expect(plain.transaction).not.toBe(transaction);
    expect((plain as { resilience?: unknown }).resilience).toBeUndefined();
    expect(Object.hasOwn(plain.client, 'runner')).toBe(false);
    expect(await plain.raw('select 1 as one')).toEqual([{ one: 1 }]);
    withResilience(plain); // may be enabled again
  });
});
