import knexFactory, { type Knex } from 'knex';
import { constantBackoff } from 'otel-resilience';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { barrier } from './testing/barrier.js';
import { describeDatabase, MARIADB, POSTGRES, SQLITE } from './testing/databases.js';
import {
  adminKnex,
  holdSqliteWriteLock,
  impatientSqliteConfig,
  killConnection,
  mysqlConfig,
  pgConfig,
  sleepSql,
  uniqueName,
  useTempSqliteFiles,
  waitForStatement,
} from './testing/faults.js';
import { withResilience } from './withResilience.js';

const fast = { backoff: constantBackoff(20) };

for (const target of [POSTGRES, MARIADB]) {
  const dialect = target.dialect as 'postgresql' | 'mysql';
  const configOf = () => (dialect === 'postgresql' ? pgConfig(uniqueName('app')) : mysqlConfig());

  await describeDatabase(target, 'transaction re-runs', () => {
    let admin: Knex;
    let db: ReturnType<typeof withResilience<Knex>>;
    const table = uniqueName('tx');

    beforeAll(async () => {
      admin = adminKnex(dialect);
      await admin.schema.createTable(table, (t) => {
        t.integer('id').primary();
        t.integer('n').notNullable().defaultTo(0);
      });
    });
    afterEach(async () => {
      await db?.destroy();
      await admin(table).del();
    });
    afterAll(async () => {
      await admin.schema.dropTableIfExists(table);
      await admin.destroy();
    });

    it('re-runs the deadlock victim of crossed updates; both transactions apply once', async () => {
      db = withResilience(knexFactory(configOf()), { transactionRetry: fast });
      await admin(table).insert([
        { id: 1, n: 0 },
        { id: 2, n: 0 },
      ]);
      const bothLocked = barrier(2);
      let runs = 0;
      const crossed = (first: number, second: number) =>
        db.transaction(async (trx) => {
          const run = ++runs;
          await trx(table).where({ id: first }).increment('n', 1);
          if (run <= 2) await bothLocked();
          await trx(table).where({ id: second }).increment('n', 1);
        });
      const codes: string[] = [];
      db.on('query-error', (e: { code?: string; errno?: number }) =>
        codes.push(String(e.errno ?? e.code)),
      );
      await Promise.all([crossed(1, 2), crossed(2, 1)]);
      expect(codes).toContain(dialect === 'postgresql' ? '40P01' : '1213');
      expect(runs).toBe(3);
      expect(await admin(table).orderBy('id').select('id', 'n')).toEqual([
        { id: 1, n: 2 },
        { id: 2, n: 2 },
      ]);
    });

    it('re-runs a transaction whose connection was killed before COMMIT; the row is written once', async () => {
      db = withResilience(knexFactory(configOf()), { transactionRetry: fast });
      let runs = 0;
      const marker = uniqueName('m');
      const done = db.transaction(async (trx) => {
        runs++;
        await trx(table).insert({ id: 10, n: runs });
        if (runs === 1) await trx.raw(sleepSql(dialect, 2, marker));
        return runs;
      });
      await killConnection(admin, dialect, await waitForStatement(admin, dialect, marker));
      await expect(done).resolves.toBe(2);
      expect(await admin(table).select('id', 'n')).toEqual([{ id: 10, n: 2 }]);
    });

    it('surfaces the error that failed the callback, not the failed ROLLBACK that followed it', async () => {
      const expected =
        dialect === 'postgresql' ? '57P01' : ['ER_CONNECTION_KILLED', 'PROTOCOL_CONNECTION_LOST'];
      const killInTransaction = async (knex: Knex) => {
        const marker = uniqueName('m');
        const done = knex
          .transaction(async (trx) => {
            await trx(table).insert({ id: 20, n: 1 });
            await trx.raw(sleepSql(dialect, 2, marker));
          })
          .then(
            () => undefined,
            (error: { code?: string }) => error.code,
          );
        await killConnection(admin, dialect, await waitForStatement(admin, dialect, marker));
        return done;
      };
      const plain = knexFactory(configOf());
      try {
        const plainCode = await killInTransaction(plain);
        if (dialect === 'postgresql') expect(plainCode).not.toBe('57P01'); // the ROLLBACK's error
      } finally {
        await plain.destroy();
      }
      db = withResilience(knexFactory(configOf()), { transactionRetry: false });
      const code = await killInTransaction(db);
      if (typeof expected === 'string') expect(code).toBe(expected);
      else expect(expected).toContain(code);
      expect(await admin(table).select('id')).toEqual([]);
    });

    it('does not re-run a callback that failed with its own error or a constraint violation', async () => {
      db = withResilience(knexFactory(configOf()), { transactionRetry: fast });
      let runs = 0;
      await expect(
        db.transaction(async () => {
          runs++;
          throw new Error('insufficient funds');
        }),
      ).rejects.toThrow('insufficient funds');
      await admin(table).insert({ id: 30, n: 0 });
      await expect(
        db.transaction(async (trx) => {
          runs++;
          await trx(table).insert({ id: 30, n: 1 });
        }),
      ).rejects.toMatchObject({ code: dialect === 'postgresql' ? '23505' : 'ER_DUP_ENTRY' });
      expect(runs).toBe(2);
    });
  });
}

await describeDatabase(POSTGRES, 'serializable transactions', () => {
  let admin: Knex;
  const table = uniqueName('ser');
  beforeAll(async () => {
    admin = adminKnex('postgresql');
    await admin.schema.createTable(table, (t) => {
      t.integer('id').primary();
      t.integer('v').notNullable();
    });
  });
  afterAll(async () => {
    await admin.schema.dropTableIfExists(table);
    await admin.destroy();
  });

  it('re-runs the loser of two SERIALIZABLE transactions (40001); both rows end up written', async () => {
    const db = withResilience(knexFactory(pgConfig(uniqueName('app'))), { transactionRetry: fast });
    try {
      const bothRead = barrier(2);
      let runs = 0;
      const codes: string[] = [];
      db.on('query-error', (e: { code?: string }) => codes.push(String(e.code)));
      // Write skew: each reads the total, then inserts depending on it.
      const insertAfterRead = (id: number) =>
        db.transaction(
          async (trx) => {
            const run = ++runs;
            const total = await trx(table).sum({ total: 'v' }).first();
            if (run <= 2) await bothRead();
            await trx(table).insert({ id, v: Number(total?.total ?? 0) + 1 });
          },
          { isolationLevel: 'serializable' },
        );
      await Promise.all([insertAfterRead(1), insertAfterRead(2)]);
      expect(codes).toContain('40001');
      expect(runs).toBe(3);
      expect(await admin(table).orderBy('id').select('id', 'v')).toEqual([
        { id: 1, v: expect.any(Number) },
        { id: 2, v: expect.any(Number) },
      ]);
      const values = (await admin(table).orderBy('v').pluck('v')) as number[];
      expect(values).toEqual([1, 2]); // serial order: the re-run saw the first one's row
    } finally {
      await db.destroy();
    }
  });
});

await describeDatabase(
  SQLITE,
  'transaction re-runs (a second handle holds BEGIN IMMEDIATE)',
  () => {
    const newFile = useTempSqliteFiles();

    it('re-runs a transaction refused with SQLITE_BUSY; the row is written once', async () => {
      const filename = newFile();
      const db = withResilience(knexFactory(impatientSqliteConfig(filename)), {
        transactionRetry: { ...fast, maxAttempts: 20 },
      });
      try {
        await db.schema.createTable('items', (t) => t.integer('id').primary());
        holdSqliteWriteLock(filename, 150);
        let runs = 0;
        await db.transaction(async (trx) => {
          runs++;
          await trx('items').insert({ id: 1 });
        });
        expect(runs).toBeGreaterThan(1);
        expect(await db('items').select('id')).toEqual([{ id: 1 }]);
      } finally {
        await db.destroy();
      }
    });
  },
);
