import knexFactory, { type Knex } from 'knex';
import { constantBackoff } from 'otel-resilience';
import { useTestTelemetry } from 'otel-resilience/testing';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import {
  ATOMIC_UPDATE_POLICY_NAME,
  atomicUpdate,
  optimisticLockConflictRule,
} from './atomicUpdate.js';
import { isOptimisticLockConflictError, OptimisticLockConflictError } from './errors.js';
import { barrier } from './testing/barrier.js';
import { ALL_DATABASES, describeDatabase, SQLITE } from './testing/databases.js';
import { adminKnex, uniqueName } from './testing/faults.js';
import { withResilience } from './withResilience.js';

interface Counter {
  id: number;
  n: number;
  label: string;
  version: number;
}

const versioned = { versionColumn: 'version' } as const;
const fast = { ...versioned, backoff: constantBackoff(5) };

for (const target of ALL_DATABASES) {
  await describeDatabase(target, 'atomicUpdate', () => {
    let db: Knex;
    // A second writer: another pool on a server; on in-memory SQLite the same (only) database.
    let other: Knex;
    const table = uniqueName('au');
    const row = async (id = 1) =>
      (await other(table).where({ id }).first('id', 'n', 'label', 'version')) as Counter;

    beforeAll(async () => {
      db = withResilience(knexFactory(target.config()));
      other = target.dialect === 'sqlite' ? db : adminKnex(target.dialect);
      await db.schema.createTable(table, (t) => {
        t.integer('id').primary();
        t.integer('n').notNullable();
        t.string('label').notNullable();
        t.integer('version').notNullable();
      });
    });
    afterEach(async () => {
      await db(table).del();
    });
    afterAll(async () => {
      await db.schema.dropTableIfExists(table);
      if (other !== db) await other.destroy();
      await db.destroy();
    });

    it('updates the row, bumps its version and returns the updated row', async () => {
      await db(table).insert({ id: 1, n: 0, label: 'a', version: 0 });
      const updated = await atomicUpdate<Counter>(db, table, { id: 1 }, { label: 'b' }, versioned);
      expect(updated).toMatchObject({ id: 1, n: 0, label: 'b', version: 1 });
      expect(await row()).toEqual({ id: 1, n: 0, label: 'b', version: 1 });
    });

    it('gives the function form the freshly read row', async () => {
      await db(table).insert({ id: 1, n: 41, label: 'a', version: 7 });
      const seen: Counter[] = [];
      const updated = await atomicUpdate<Counter>(
        db,
        table,
        { id: 1 },
        async (current) => {
          seen.push({ ...current });
          return { n: current.n + 1 };
        },
        versioned,
      );
      expect(seen).toEqual([{ id: 1, n: 41, label: 'a', version: 7 }]);
      expect(updated).toMatchObject({ id: 1, n: 42, label: 'a', version: 8 });
      expect(await row()).toEqual({ id: 1, n: 42, label: 'a', version: 8 });
    });

    it('a plain read-modify-write of 10 racing writers loses updates (the fault this prevents)', async () => {
      await db(table).insert({ id: 1, n: 0, label: 'a', version: 0 });
      const allRead = barrier(10);
      await Promise.all(
        Array.from({ length: 10 }, async () => {
          const current = (await db(table).where({ id: 1 }).first()) as Counter;
          await allRead();
          await db(table)
            .where({ id: 1 })
            .update({ n: current.n + 1 });
        }),
      );
      expect((await row()).n).toBe(1);
    });

    it('10 racing atomicUpdates of one counter all apply: n = 10, version = 10', async () => {
      await db(table).insert({ id: 1, n: 0, label: 'a', version: 0 });
      const allRead = barrier(10);
      let calls = 0;
      const results = await Promise.all(
        Array.from({ length: 10 }, () => {
          let first = true;
          return atomicUpdate<Counter>(
            db,
            table,
            { id: 1 },
            async (current) => {
              calls++;
              // Every writer reads version 0 before any writes: nine of them must lose the race.
              if (first) {
                first = false;
                await allRead();
              }
              return { n: current.n + 1 };
            },
            { ...versioned, maxAttempts: 20 },
          );
        }),
      );
      expect(await row()).toEqual({ id: 1, n: 10, label: 'a', version: 10 });
      expect(results.map((r) => r.version).sort((a, b) => a - b)).toEqual([
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
      ]);
      expect(calls).toBeGreaterThan(10);
    });

    it('gives up with OptimisticLockConflictError after maxAttempts when the row keeps changing', async () => {
      await db(table).insert({ id: 1, n: 0, label: 'a', version: 0 });
      let calls = 0;
      const error = await atomicUpdate<Counter>(
        db,
        table,
        { id: 1 },
        async (current) => {
          calls++;
          // Another writer commits between this attempt's read and its update.
          await other(table)
            .where({ id: 1 })
            .update({ n: current.n + 100, version: current.version + 1 });
          return { label: 'mine' };
        },
        { ...fast, maxAttempts: 3 },
      ).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OptimisticLockConflictError);
      expect(error).toMatchObject({ table, attempts: 3, reason: 'conflict' });
      expect((error as Error).message).not.toContain('mine');
      expect(calls).toBe(3);
      // The other writer's updates all stand; ours was never written.
      expect(await row()).toEqual({ id: 1, n: 300, label: 'a', version: 3 });
    });

    it('fails at once with not_found when no row matches', async () => {
      await db(table).insert({ id: 1, n: 0, label: 'a', version: 0 });
      let calls = 0;
      const error = await atomicUpdate<Counter>(
        db,
        table,
        { id: 2 },
        () => {
          calls++;
          return { n: 1 };
        },
        fast,
      ).catch((e: unknown) => e);
      expect(isOptimisticLockConflictError(error)).toBe(true);
      expect(error).toMatchObject({ table, attempts: 1, reason: 'not_found' });
      expect(calls).toBe(0);
      expect(await other(table).select('id', 'n', 'version')).toEqual([
        { id: 1, n: 0, version: 0 },
      ]);
    });

    it('refuses a where that matches several rows, writing nothing', async () => {
      await db(table).insert([
        { id: 1, n: 0, label: 'same', version: 0 },
        { id: 2, n: 0, label: 'same', version: 0 },
      ]);
      await expect(
        atomicUpdate<Counter>(db, table, { label: 'same' }, { n: 5 }, fast),
      ).rejects.toThrow(/where \(label\) matches more than one row/);
      expect(await other(table).orderBy('id').select('id', 'n', 'version')).toEqual([
        { id: 1, n: 0, version: 0 },
        { id: 2, n: 0, version: 0 },
      ]);
    });

    it('works inside a transaction: committed with it, rolled back with it', async () => {
      await db(table).insert({ id: 1, n: 0, label: 'a', version: 0 });
      const updated = await db.transaction((trx) =>
        atomicUpdate<Counter>(trx, table, { id: 1 }, (c) => ({ n: c.n + 1 }), versioned),
      );
      expect(updated).toMatchObject({ n: 1, version: 1 });
      await expect(
        db.transaction(async (trx) => {
          await atomicUpdate<Counter>(trx, table, { id: 1 }, (c) => ({ n: c.n + 1 }), versioned);
          throw new Error('changed my mind');
        }),
      ).rejects.toThrow('changed my mind');
      expect(await row()).toEqual({ id: 1, n: 1, label: 'a', version: 1 });
    });

    if (target.dialect !== 'sqlite') {
      it('inside a transaction whose snapshot is stale, re-reads the winning version and applies', async () => {
        await db(table).insert({ id: 1, n: 0, label: 'a', version: 0 });
        let calls = 0;
        const updated = await db.transaction(async (trx) => {
          // The transaction's snapshot now holds version 0 (MariaDB: REPEATABLE READ).
          await trx(table).where({ id: 1 }).first();
          return atomicUpdate<Counter>(
            trx,
            table,
            { id: 1 },
            async (current) => {
              if (++calls === 1) {
                await other(table)
                  .where({ id: 1 })
                  .update({ n: current.n + 100, version: current.version + 1 });
              }
              return { n: current.n + 1 };
            },
            { ...fast, maxAttempts: 3 },
          );
        });
        expect(calls).toBe(2);
        expect(updated).toMatchObject({ n: 101, version: 2 });
        expect(await row()).toEqual({ id: 1, n: 101, label: 'a', version: 2 });
      });
    }

    it('refuses bad arguments with a TypeError naming them, before any query', async () => {
      await db(table).insert({ id: 1, n: 0, label: 'a', version: 0 });
      let queries = 0;
      const count = () => queries++;
      db.on('query', count);
      const bad: Array<[() => Promise<unknown>, RegExp]> = [
        [() => atomicUpdate(db, table, { id: 1 }, { n: 1 }, {} as never), /versionColumn/],
        [
          () => atomicUpdate(db, table, { id: 1 }, { n: 1 }, { versionColumn: '' }),
          /versionColumn must be a non-empty/,
        ],
        [
          () => atomicUpdate(db, table, { id: 1 }, { n: 1 }, undefined as never),
          /options must be an object/,
        ],
        [
          () => atomicUpdate(db, table, { id: 1 }, { n: 1, version: 9 }, versioned),
          /update must not set the version column "version"/,
        ],
        [() => atomicUpdate(db, table, {}, { n: 1 }, versioned), /where must be a non-empty/],
        [
          () => atomicUpdate(db, table, { id: undefined }, { n: 1 }, versioned),
          /where\.id is undefined/,
        ],
        [
          () => atomicUpdate(db, table, { id: 1, version: 0 }, { n: 1 }, versioned),
          /where must not include the version column/,
        ],
        [() => atomicUpdate(db, table, { id: 1 }, 'n = 1' as never, versioned), /update must be/],
        [() => atomicUpdate(db, table, { id: 1 }, {}, versioned), /at least one column/],
        [() => atomicUpdate(db, '', { id: 1 }, { n: 1 }, versioned), /table must be a non-empty/],
        [
          () => atomicUpdate(db, 42 as never, { id: 1 }, { n: 1 }, versioned),
          /table must be a non-empty/,
        ],
        [
          () => atomicUpdate(db, table, { id: 1 }, { n: 1 }, { ...versioned, maxAttempts: 0 }),
          /maxAttempts must be an integer >= 1/,
        ],
        [
          () => atomicUpdate(db, table, { id: 1 }, { n: 1 }, { ...versioned, maxAttempts: 1.5 }),
          /maxAttempts must be an integer >= 1/,
        ],
        [
          () => atomicUpdate(db, table, { id: 1 }, { n: 1 }, { ...versioned, backoff: 5 as never }),
          /backoff must be a Backoff/,
        ],
        [
          () => atomicUpdate(db, table, { id: 1 }, { n: 1 }, { ...versioned, retries: 3 } as never),
          /unknown option "retries"/,
        ],
        [() => atomicUpdate({} as never, table, { id: 1 }, { n: 1 }, versioned), /db must be/],
      ];
      try {
        for (const [call, message] of bad) {
          const error = await call().catch((e: unknown) => e);
          expect(error).toBeInstanceOf(TypeError);
          expect((error as Error).message).toMatch(message);
        }
      } finally {
        db.off('query', count);
      }
      expect(queries).toBe(0);
      expect(await row()).toEqual({ id: 1, n: 0, label: 'a', version: 0 });
    });

    it('refuses an update function that sets the version or returns no object, writing nothing', async () => {
      await db(table).insert({ id: 1, n: 0, label: 'a', version: 0 });
      await expect(
        atomicUpdate<Counter>(db, table, { id: 1 }, (c) => ({ version: c.version + 5 }), fast),
      ).rejects.toThrow(/update function must not set the version column "version"/);
      await expect(
        atomicUpdate<Counter>(db, table, { id: 1 }, () => 'secret' as never, fast),
      ).rejects.toThrow(/must return an object of changes, got a string$/);
      expect(await row()).toEqual({ id: 1, n: 0, label: 'a', version: 0 });
    });

    it('refuses a version column the table does not have, or one holding a non-integer', async () => {
      await db(table).insert({ id: 1, n: 0, label: 'a', version: 0 });
      await expect(
        atomicUpdate<Counter>(db, table, { id: 1 }, { n: 1 }, { versionColumn: 'revision' }),
      ).rejects.toThrow(/the row has no column "revision"/);
      const error = await atomicUpdate<Counter>(
        db,
        table,
        { id: 1 },
        { n: 1 },
        { versionColumn: 'label' },
      ).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toMatch(
        /version column "label" holds a string that is not an integer/,
      );
      expect(await row()).toEqual({ id: 1, n: 0, label: 'a', version: 0 });
    });

    it('writes nothing when the update function returns no change', async () => {
      await db(table).insert({ id: 1, n: 3, label: 'a', version: 4 });
      const same = await atomicUpdate<Counter>(db, table, { id: 1 }, () => ({}), versioned);
      expect(same).toMatchObject({ id: 1, n: 3, version: 4 });
      expect(await row()).toEqual({ id: 1, n: 3, label: 'a', version: 4 });
    });
  });
}

await describeDatabase(SQLITE, 'atomicUpdate telemetry and classification', () => {
  const otel = useTestTelemetry();

  it('reports each attempt under knex.atomic_update, conflicts as version_conflict', async () => {
    const db = knexFactory(SQLITE.config());
    try {
      await db.schema.createTable('t', (t) => {
        t.integer('id').primary();
        t.integer('n').notNullable();
        t.integer('version').notNullable();
      });
      await db('t').insert({ id: 1, n: 0, version: 0 });
      let calls = 0;
      await atomicUpdate<{ n: number; version: number }>(
        db,
        't',
        { id: 1 },
        async (current) => {
          if (++calls < 3) await db('t').where({ id: 1 }).increment('version', 1);
          return { n: current.n + 1 };
        },
        fast,
      );
      expect(await db('t').first('n', 'version')).toEqual({ n: 1, version: 3 });
      const attempts = otel
        .spans()
        .filter((s) => s.name === `resilience ${ATOMIC_UPDATE_POLICY_NAME} attempt`);
      expect(attempts.map((s) => s.attributes['error.type'])).toEqual([
        'version_conflict',
        'version_conflict',
        undefined,
      ]);
      expect(attempts.map((s) => s.attributes['resilience.error.category'])).toEqual([
        'transient',
        'transient',
        undefined,
      ]);
    } finally {
      await db.destroy();
    }
  });

  it('classifies conflict as transient/retryable and not_found as data/not retryable', () => {
    expect(optimisticLockConflictRule(new OptimisticLockConflictError('t', 5, 'conflict'))).toEqual(
      { category: 'transient', retryable: true, errorType: 'version_conflict' },
    );
    expect(
      optimisticLockConflictRule(new OptimisticLockConflictError('t', 1, 'not_found')),
    ).toEqual({ category: 'data', retryable: false, errorType: 'not_found' });
    expect(optimisticLockConflictRule(new Error('other'))).toBeUndefined();
  });
});
