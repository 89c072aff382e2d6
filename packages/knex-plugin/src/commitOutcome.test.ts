import knexFactory, { type Knex } from 'knex';
import { constantBackoff } from 'otel-resilience';
import { points, useTestTelemetry } from 'otel-resilience/testing';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { isUnknownCommitOutcomeError, UnknownCommitOutcomeError } from './errors.js';
import { describeDatabase, MARIADB, POSTGRES } from './testing/databases.js';
import type { FaultProxy } from './testing/FaultProxy.js';
import { adminKnex, proxiedConfig, startProxy, uniqueName } from './testing/faults.js';
import { withResilience } from './withResilience.js';

const fast = { backoff: constantBackoff(20) };

for (const target of [POSTGRES, MARIADB]) {
  const dialect = target.dialect as 'postgresql' | 'mysql';

  await describeDatabase(target, 'COMMIT acknowledgements lost in flight', () => {
    let admin: Knex;
    let proxy: FaultProxy;
    const opened: Knex[] = [];
    const table = uniqueName('co');
    const proxied = (): Knex => {
      const db = knexFactory(proxiedConfig(proxy, dialect));
      opened.push(db);
      return db;
    };
    const telemetry = useTestTelemetry();
    const rows = async () => (await admin(table).orderBy('tag').pluck('tag')) as string[];

    beforeAll(async () => {
      admin = adminKnex(dialect);
      await admin.schema.createTable(table, (t) => {
        t.increments('id');
        t.string('tag').notNullable();
      });
    });
    beforeEach(async () => {
      // A proxy per test: nothing armed is carried over, and the counters start at zero.
      proxy = await startProxy(dialect);
    });
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((db) => db.destroy()));
      await proxy.close();
      await admin(table).del();
    });
    afterAll(async () => {
      await admin.schema.dropTableIfExists(table);
      await admin.destroy();
    });

    it('a naive retry of the whole transaction writes twice (the fault this guards against)', async () => {
      const db = proxied();
      const naive = async (tag: string) => {
        for (let attempt = 1; ; attempt++) {
          try {
            return await db.transaction((trx) => trx(table).insert({ tag }));
          } catch (error) {
            if (attempt === 3) throw error;
          }
        }
      };
      for (const tag of ['a', 'b', 'c']) {
        proxy.failNextCommits('drop-ack');
        await naive(tag);
      }
      expect(await rows()).toEqual(['a', 'a', 'b', 'b', 'c', 'c']);
    });

    if (dialect === 'postgresql') {
      it('reports success when the database says the lost COMMIT committed; nothing runs twice', async () => {
        const db = withResilience(proxied(), { transactionRetry: fast });
        let runs = 0;
        proxy.failNextCommits('drop-ack', 3);
        for (const tag of ['a', 'b', 'c']) {
          const result = await db.transaction(async (trx) => {
            runs++;
            await trx(table).insert({ tag });
            return tag;
          });
          expect(result).toBe(tag);
        }
        expect(proxy.injected.commitAcksDropped).toBe(3);
        expect(runs).toBe(3);
        expect(await rows()).toEqual(['a', 'b', 'c']);
        const verified = points(await telemetry.collect(), 'resilience.db.commit_verifications');
        const byOutcome = (outcome: string) =>
          verified.find((p) => p.attributes['resilience.db.commit_outcome'] === outcome);
        expect(byOutcome('committed')).toEqual({
          attributes: {
            'resilience.name': 'knex.transaction',
            'db.system.name': 'postgresql',
            'resilience.db.commit_outcome': 'committed',
          },
          value: 3,
        });
        // Every outcome is exported from the start, at 0 until it happens.
        expect(byOutcome('aborted')?.value).toBe(0);
        const transaction = telemetry
          .spans()
          .filter((span) => span.name.startsWith('resilience knex.transaction'));
        expect(
          transaction.flatMap((span) => span.events.map((e) => [e.name, e.attributes])),
        ).toContainEqual([
          'resilience.db.commit_verification',
          { 'resilience.db.commit_outcome': 'committed' },
        ]);
      });

      it('re-runs when the database says the lost COMMIT aborted; the row is written once', async () => {
        const db = withResilience(proxied(), { transactionRetry: fast });
        let runs = 0;
        proxy.failNextCommits('drop-before');
        await db.transaction(async (trx) => {
          runs++;
          await trx(table).insert({ tag: 'x' });
        });
        expect(proxy.injected.commitsDropped).toBeGreaterThanOrEqual(1);
        expect(runs).toBe(2);
        expect(await rows()).toEqual(['x']);
      });

      it('returns a read-only transaction whose COMMIT was lost: it wrote nothing', async () => {
        const db = withResilience(proxied(), { transactionRetry: fast });
        let runs = 0;
        proxy.failNextCommits('drop-ack');
        const count = await db.transaction(async (trx) => {
          runs++;
          return Number((await trx(table).count({ n: '*' }).first())?.n);
        });
        expect(count).toBe(0);
        expect(runs).toBe(1);
      });

      it('with verifyCommits off, raises UnknownCommitOutcomeError and does not re-run', async () => {
        const db = withResilience(proxied(), { transactionRetry: fast, verifyCommits: false });
        let runs = 0;
        proxy.failNextCommits('drop-ack');
        const error = await db
          .transaction(async (trx) => {
            runs++;
            await trx(table).insert({ tag: 'y' });
          })
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(UnknownCommitOutcomeError);
        expect(error).toMatchObject({ reason: 'not_verifiable' });
        expect(runs).toBe(1);
        expect(await rows()).toEqual(['y']);
      });
    } else {
      it.each([
        ['drop-ack', ['z']],
        ['drop-before', []],
      ] as const)(
        '%s: raises UnknownCommitOutcomeError, never re-runs (MariaDB cannot be asked)',
        async (mode, expected) => {
          const db = withResilience(proxied(), { transactionRetry: fast });
          let runs = 0;
          proxy.failNextCommits(mode);
          const error = await db
            .transaction(async (trx) => {
              runs++;
              await trx(table).insert({ tag: 'z' });
            })
            .catch((e: unknown) => e);
          expect(isUnknownCommitOutcomeError(error)).toBe(true);
          expect((error as Error).message).not.toContain(table);
          expect(runs).toBe(1);
          expect(await rows()).toEqual(expected);
        },
      );
    }
  });
}
