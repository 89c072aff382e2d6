import knexFactory, { type Knex } from 'knex';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { withSavepoint } from './savepoint.js';
import { ALL_DATABASES, describeDatabase } from './testing/databases.js';
import { uniqueName } from './testing/faults.js';
import { withResilience } from './withResilience.js';

for (const target of ALL_DATABASES) {
  await describeDatabase(target, 'withSavepoint', () => {
    let db: Knex;
    const table = uniqueName('sp');

    beforeEach(async () => {
      db = withResilience(knexFactory(target.config()));
      await db.schema.createTable(table, (t) => t.integer('id').primary());
    });
    afterEach(async () => {
      await db.schema.dropTableIfExists(table);
      await db.destroy();
    });

    it('rolls back only the failed block; the transaction goes on and commits the rest', async () => {
      await db.transaction(async (trx) => {
        await trx(table).insert({ id: 1 });
        const failure = await withSavepoint(trx, async (sp) => {
          await sp(table).insert({ id: 2 });
          await sp(table).insert({ id: 1 }); // duplicate key: the block fails
        }).catch((error: unknown) => error);
        expect(failure).toBeInstanceOf(Error);
        // Usable afterwards, PostgreSQL included (a failed statement would abort it otherwise).
        await trx(table).insert({ id: 3 });
        expect(
          await withSavepoint(trx, async (sp) =>
            sp(table)
              .insert({ id: 4 })
              .then(() => 'ok'),
          ),
        ).toBe('ok');
      });
      expect(await db(table).orderBy('id').pluck('id')).toEqual([1, 3, 4]);
    });

    it('rejects what is not a transaction or not a function, before any statement', async () => {
      await expect(withSavepoint(db as never, async () => 1)).rejects.toThrow(
        /needs a transaction/,
      );
      await db.transaction(async (trx) => {
        await expect(withSavepoint(trx, 'nope' as never)).rejects.toThrow(
          /needs a callback function/,
        );
      });
    });
  });
}
