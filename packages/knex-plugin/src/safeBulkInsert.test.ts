import knexFactory, { type Knex } from 'knex';
import { constantBackoff } from 'otel-resilience';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { databaseFailureIn } from './databaseErrors.js';
import { isUnknownCommitOutcomeError } from './errors.js';
import { safeBulkInsert } from './safeBulkInsert.js';
import { ALL_DATABASES, describeDatabase, MARIADB, POSTGRES } from './testing/databases.js';
import type { FaultProxy } from './testing/FaultProxy.js';
import { adminKnex, proxiedConfig, startProxy, uniqueName } from './testing/faults.js';
import { withResilience } from './withResilience.js';

interface Item {
  id: number;
  name: string | null;
}

const fast = { backoff: constantBackoff(20) };

/** `count` rows with ids 1..count. */
const items = (count: number): Item[] =>
  Array.from({ length: count }, (_, i) => ({ id: i + 1, name: `item ${i + 1}` }));

/** The ids of `rows` except those at `bad` indexes, ascending. */
const goodIds = (rows: readonly Item[], bad: readonly number[]) =>
  rows
    .filter((_, index) => !bad.includes(index))
    .map((row) => row.id)
    .sort((a, b) => a - b);

for (const target of ALL_DATABASES) {
  await describeDatabase(target, 'safeBulkInsert', () => {
    let db: Knex;
    const table = uniqueName('bulk');
    const stored = async () =>
      (await db(table).orderBy('id').select('id', 'name')) as Array<{ id: number; name: string }>;

    beforeAll(async () => {
      db = withResilience(knexFactory(target.config()), { transactionRetry: fast });
      await db.schema.createTable(table, (t) => {
        t.integer('id').primary();
        t.string('name').notNullable();
      });
    });
    afterEach(async () => {
      await db(table).del();
    });
    afterAll(async () => {
      await db.schema.dropTableIfExists(table);
      await db.destroy();
    });

    it('inserts every good row of 1,000 once and reports exactly the bad ones, by index', async () => {
      await db(table).insert({ id: 5_000, name: 'already there' });
      const rows = items(1_000);
      rows[150] = { id: 5_000, name: 'duplicates a stored row' };
      rows[420] = { id: 421, name: null };
      rows[777] = { id: 771, name: 'duplicates index 770, same batch' };
      rows[999] = { id: 1, name: 'duplicates index 0, an earlier batch' };
      const bad = [150, 420, 777, 999];

      const result = await safeBulkInsert(db, table, rows, { batchSize: 100 });

      expect(result.inserted).toBe(996);
      expect(result.failed.map((f) => f.index)).toEqual(bad);
      for (const failure of result.failed) {
        expect(failure.row).toBe(rows[failure.index]);
        expect(databaseFailureIn(failure.error)?.category).toBe('data');
      }
      const table_ = await stored();
      expect(table_.map((r) => r.id)).toEqual([...goodIds(rows, bad), 5_000]);
      // The first writer of a duplicated id kept its row.
      expect(table_.find((r) => r.id === 771)?.name).toBe('item 771');
      expect(table_.find((r) => r.id === 1)?.name).toBe('item 1');
      expect(table_.find((r) => r.id === 5_000)?.name).toBe('already there');
    });

    it('inserts all-good input in batches, one statement per batch', async () => {
      const rows = items(250);
      let inserts = 0;
      const count = (query: { sql: string }) => {
        if (/^insert/i.test(query.sql)) inserts++;
      };
      db.on('query', count);
      try {
        expect(await safeBulkInsert(db, table, rows, { batchSize: 100 })).toEqual({
          inserted: 250,
          failed: [],
        });
      } finally {
        db.off('query', count);
      }
      expect(inserts).toBe(3);
      expect((await stored()).map((r) => r.id)).toEqual(goodIds(rows, []));
    });

    it('reports every row of all-bad input and leaves the table as it was', async () => {
      await db(table).insert(items(3));
      const rows = [...items(3), { id: 9, name: null }];
      const result = await safeBulkInsert(db, table, rows);
      expect(result.inserted).toBe(0);
      expect(result.failed.map((f) => [f.index, f.row])).toEqual(rows.map((row, i) => [i, row]));
      expect(await stored()).toEqual(items(3));
    });

    it('refuses bad arguments with a TypeError, before any query', async () => {
      let queries = 0;
      const count = () => queries++;
      db.on('query', count);
      const bad: Array<[() => Promise<unknown>, RegExp]> = [
        [() => safeBulkInsert(db, table, []), /safeBulkInsert\(\) needs at least one row/],
        [() => safeBulkInsert(db, table, 'rows' as never), /rows must be an array/],
        [() => safeBulkInsert(db, table, undefined as never), /rows must be an array/],
        [
          () => safeBulkInsert(db, table, [{ id: 1, name: 'secret' }, 7, null] as never),
          /rows\[1\] must be an object of column values, got a number/,
        ],
        [
          () => safeBulkInsert(db, table, [{ id: 1 }, ['x']] as never),
          /rows\[1\] must be an object/,
        ],
        [
          () => safeBulkInsert(db, table, items(2), { batchSize: 0 }),
          /batchSize must be an integer >= 1/,
        ],
        [
          () => safeBulkInsert(db, table, items(2), { batchSize: 2.5 }),
          /batchSize must be an integer >= 1/,
        ],
        [
          () => safeBulkInsert(db, table, items(2), { batchsize: 2 } as never),
          /unknown option "batchsize"/,
        ],
        [() => safeBulkInsert(db, '', items(2)), /table must be a non-empty string/],
        [() => safeBulkInsert(db, 3 as never, items(2)), /table must be a non-empty string/],
        [() => safeBulkInsert({} as never, table, items(2)), /db must be a Knex instance/],
      ];
      try {
        for (const [call, message] of bad) {
          const error = await call().catch((e: unknown) => e);
          expect(error).toBeInstanceOf(TypeError);
          expect((error as Error).message).toMatch(message);
          expect((error as Error).message).not.toContain('secret');
        }
      } finally {
        db.off('query', count);
      }
      expect(queries).toBe(0);
      expect(await stored()).toEqual([]);
    });
  });
}

for (const target of [POSTGRES, MARIADB]) {
  const dialect = target.dialect as 'postgresql' | 'mysql';

  await describeDatabase(target, 'safeBulkInsert under connection faults', () => {
    let admin: Knex;
    let proxy: FaultProxy;
    let db: Knex;
    // No key: a batch written twice would show as duplicated ids.
    const loose = uniqueName('bulk_loose');
    const keyed = uniqueName('bulk_keyed');
    const idsOf = async (table: string) =>
      ((await admin(table).orderBy('id').pluck('id')) as Array<number | string>).map(Number);

    beforeAll(async () => {
      admin = adminKnex(dialect);
      await admin.schema.createTable(loose, (t) => {
        t.integer('id').notNullable();
        t.string('name').notNullable();
      });
      await admin.schema.createTable(keyed, (t) => {
        t.integer('id').primary();
        t.string('name').notNullable();
      });
    });
    beforeEach(async () => {
      proxy = await startProxy(dialect);
      db = withResilience(knexFactory(proxiedConfig(proxy, dialect)), {
        transactionRetry: fast,
        circuitBreaker: false,
      });
    });
    afterEach(async () => {
      await db.destroy();
      await proxy.close();
      await admin(loose).del();
      await admin(keyed).del();
    });
    afterAll(async () => {
      await admin.schema.dropTableIfExists(loose);
      await admin.schema.dropTableIfExists(keyed);
      await admin.destroy();
    });

    it('re-runs a batch whose connection dropped mid-bisection: every good row once, counts exact', async () => {
      const rows = items(1_000);
      rows[250] = { id: 251, name: null };
      rows[640] = { id: 641, name: null };
      const bad = [250, 640];
      // Drops the connection at the third INSERT after the first refused one: in the middle of
      // bisecting batch 2, after some of its halves were inserted in this run.
      let armed = false;
      let insertsSinceRefusal = 0;
      let begins = 0;
      db.on('query-error', () => {
        armed = true;
      });
      db.on('query', (query: { sql: string }) => {
        if (/^begin/i.test(query.sql)) begins++;
        if (!armed || !/^insert/i.test(query.sql)) return;
        if (++insertsSinceRefusal === 3) proxy.dropAll();
      });

      const result = await safeBulkInsert(db, loose, rows, { batchSize: 100 });

      expect(proxy.injected.connectionsDropped).toBeGreaterThanOrEqual(1);
      expect(begins).toBe(11); // ten batches, one of them run twice
      expect(result.inserted).toBe(998);
      expect(result.failed.map((f) => f.index)).toEqual(bad);
      expect(await idsOf(loose)).toEqual(goodIds(rows, bad));
    });

    if (dialect === 'postgresql') {
      it('resolves a batch whose COMMIT acknowledgement was lost: committed once, counted once', async () => {
        const rows = items(300);
        rows[120] = { id: 121, name: null };
        proxy.failNextCommits('drop-ack');
        const result = await safeBulkInsert(db, loose, rows, { batchSize: 100 });
        expect(proxy.injected.commitAcksDropped).toBe(1);
        expect(result.inserted).toBe(299);
        expect(result.failed.map((f) => f.index)).toEqual([120]);
        expect(await idsOf(loose)).toEqual(goodIds(rows, [120]));
      });
    } else {
      it('fails with UnknownCommitOutcomeError on a lost COMMIT; calling again completes without duplicates', async () => {
        const rows = items(300);
        proxy.failNextCommits('drop-ack');
        const error = await safeBulkInsert(db, keyed, rows, { batchSize: 100 }).catch(
          (e: unknown) => e,
        );
        expect(isUnknownCommitOutcomeError(error)).toBe(true);
        // The first batch did commit; nothing after it ran.
        expect(await idsOf(keyed)).toEqual(goodIds(rows.slice(0, 100), []));

        const again = await safeBulkInsert(db, keyed, rows, { batchSize: 100 });
        expect(again.inserted).toBe(200);
        expect(again.failed.map((f) => f.index)).toEqual(rows.slice(0, 100).map((_, i) => i));
        expect(await idsOf(keyed)).toEqual(goodIds(rows, []));
      });
    }
  });
}
