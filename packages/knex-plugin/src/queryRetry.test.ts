import knexFactory, { type Knex } from 'knex';
import { constantBackoff } from 'otel-resilience';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { withQueryOptions } from './queryOptions.js';
import {
  describeDatabase,
  MARIADB,
  MYSQL_URL,
  PG_URL,
  POSTGRES,
  QUIET_LOG,
  SQLITE,
} from './testing/databases.js';
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
  const configOf = (pool?: Knex.PoolConfig) =>
    dialect === 'postgresql' ? pgConfig(uniqueName('app'), pool) : mysqlConfig(pool);

  await describeDatabase(target, 'query retry against killed connections', () => {
    let admin: Knex;
    const opened: Knex[] = [];
    const table = uniqueName('qr');
    const open = (db: Knex) => {
      opened.push(db);
      return db;
    };

    beforeAll(async () => {
      admin = adminKnex(dialect);
      await admin.schema.createTable(table, (t) => {
        t.integer('id').primary();
        t.integer('n').notNullable().defaultTo(0);
      });
    });
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((db) => db.destroy()));
      await admin(table).del();
    });
    afterAll(async () => {
      await admin.schema.dropTableIfExists(table);
      await admin.destroy();
    });

    /** Runs `sql` through `db`, kills its backend while it runs, and returns the outcome. */
    async function killWhileRunning(db: Knex, sql: (marker: string) => string) {
      const marker = uniqueName('m');
      const running = db.raw(sql(marker)).then(
        () => 'ok',
        (error: { code?: string }) => error,
      );
      await killConnection(admin, dialect, await waitForStatement(admin, dialect, marker));
      return running;
    }

    it('retries a read whose connection was killed mid-query, on a new connection', async () => {
      const db = open(withResilience(knexFactory(configOf()), { retry: fast }));
      let sent = 0;
      db.on('query', () => sent++);
      const marker = uniqueName('m');
      const running = Promise.resolve(db.raw(sleepSql(dialect, 0.5, marker)));
      // Only the first attempt is killed: the retry runs the same statement again.
      await killConnection(admin, dialect, await waitForStatement(admin, dialect, marker));
      await expect(running).resolves.toBeDefined();
      expect(sent).toBe(2);
    });

    it('evicts the killed connection: the next query does not get it (plain Knex would)', async () => {
      const db = open(withResilience(knexFactory(configOf({ max: 1 })), { retry: false }));
      const outcome = await killWhileRunning(db, (m) => sleepSql(dialect, 2, m));
      expect(outcome).not.toBe('ok');
      // Retries are off: this passes only if the pool hands out a fresh connection.
      await expect(db.raw('select 1 as one')).resolves.toBeDefined();
    });

    it('does not retry a write whose connection dropped after it was sent, unless marked idempotent', async () => {
      const db = open(withResilience(knexFactory(configOf()), { retry: fast }));
      let sent = 0;
      db.on('query', () => sent++);
      const insert = (id: number, m: string) =>
        `insert into ${table} (id, n) select ${id}, 1 from (${sleepSql(dialect, 2, m)}) s`;
      const outcome = await killWhileRunning(db, (m) => insert(1, m));
      expect(outcome).not.toBe('ok');
      expect(sent).toBe(1);

      const marker = uniqueName('m');
      const idempotent = withQueryOptions(db.raw(insert(2, marker).replace('2)', '0.3)')), {
        idempotent: true,
      });
      const running = Promise.resolve(idempotent);
      await killConnection(admin, dialect, await waitForStatement(admin, dialect, marker));
      await running;
      expect(await admin(table).orderBy('id').select('id')).toEqual([{ id: 2 }]);
    });

    it('retries an autocommit update refused by a lock timeout, applying it exactly once', async () => {
      const lockTimeout =
        dialect === 'postgresql'
          ? "SET lock_timeout = '150ms'"
          : 'SET SESSION innodb_lock_wait_timeout = 1';
      const db = open(
        withResilience(
          knexFactory(
            configOf({
              afterCreate: (
                conn: { query: (sql: string, cb: (e: unknown) => void) => void },
                done: (e: unknown, c: unknown) => void,
              ) => conn.query(lockTimeout, (error) => done(error, conn)),
            }),
          ),
          { retry: { ...fast, maxAttempts: 10 } },
        ),
      );
      await admin(table).insert({ id: 1, n: 0 });
      const codes: string[] = [];
      db.on('query-error', (error: { code?: string; errno?: number }) =>
        codes.push(String(error.errno ?? error.code)),
      );
      const holder = admin.transaction();
      const trx = await holder;
      await trx(table).where({ id: 1 }).forUpdate().select();
      const update = db(table).where({ id: 1 }).increment('n', 1);
      setTimeout(() => void trx.commit(), dialect === 'postgresql' ? 400 : 1_500);
      await update;
      expect(codes.length).toBeGreaterThan(0);
      expect(new Set(codes)).toEqual(new Set([dialect === 'postgresql' ? '55P03' : '1205']));
      expect(await admin(table).where({ id: 1 }).first('n')).toEqual({ n: 1 });
    });
  });
}

/** A database account allowed one connection at a time, per server. */
const LIMITED_ACCOUNT = {
  postgresql: {
    code: '53300',
    url: PG_URL.replace('postgres@', 'otel_resilience_limited@'),
    holdSql: 'select pg_sleep(0.4) as limit_holder',
    create: [
      `do $$ begin
         if not exists (select from pg_roles where rolname = 'otel_resilience_limited') then
           create role otel_resilience_limited login connection limit 1;
         end if;
       end $$`,
    ],
  },
  mysql: {
    code: '1226',
    url: MYSQL_URL.replace('root@', 'otel_resilience_limited@'),
    holdSql: 'select sleep(0.4) as limit_holder',
    create: [
      "CREATE USER IF NOT EXISTS 'otel_resilience_limited'@'%' WITH MAX_USER_CONNECTIONS 1",
      "GRANT ALL ON test.* TO 'otel_resilience_limited'@'%'",
    ],
  },
} as const;

for (const target of [POSTGRES, MARIADB]) {
  const dialect = target.dialect as 'postgresql' | 'mysql';
  const account = LIMITED_ACCOUNT[dialect];
  const limitedConfig = (): Knex.Config => ({
    client: dialect === 'postgresql' ? 'pg' : 'mysql2',
    connection: account.url,
    log: QUIET_LOG,
    pool: { min: 0, max: 1 },
  });

  await describeDatabase(target, 'query retry at the connection limit', () => {
    let admin: Knex;
    beforeAll(async () => {
      admin = adminKnex(dialect);
      for (const sql of account.create) await admin.raw(sql);
    });
    afterAll(async () => {
      await admin.destroy();
    });

    it(`retries a query refused with ${account.code} (never sent) until a connection frees up`, async () => {
      const holder = knexFactory(limitedConfig());
      const db = withResilience(knexFactory(limitedConfig()), {
        retry: {
          backoff: constantBackoff(100),
          maxAttempts: 20,
          strategies: { system: { maxAttempts: 20 } },
        },
        circuitBreaker: false,
      });
      const codes: string[] = [];
      db.client.pool.on('createFail', (_id: number, error: { code?: string; errno?: number }) =>
        codes.push(String(dialect === 'postgresql' ? error.code : error.errno)),
      );
      try {
        // The holder's connection counts against the limit until its pool closes it.
        const busy = Promise.resolve(holder.raw(account.holdSql)).then(() => holder.destroy());
        await waitForStatement(admin, dialect, 'limit_holder');
        await expect(db.raw('select 42 as answer')).resolves.toBeDefined();
        await busy;
        expect(codes).toContain(account.code);
      } finally {
        await holder.destroy();
        await db.destroy();
      }
    });
  });
}

await describeDatabase(SQLITE, 'query retry (a second handle holds BEGIN IMMEDIATE)', () => {
  const newFile = useTempSqliteFiles();

  it('retries a write refused with SQLITE_BUSY and applies it once', async () => {
    const filename = newFile();
    const db = withResilience(knexFactory(impatientSqliteConfig(filename)), {
      retry: { ...fast, maxAttempts: 20 },
    });
    try {
      await db.schema.createTable('items', (t) => t.integer('id').primary());
      holdSqliteWriteLock(filename, 150);
      const codes: string[] = [];
      db.on('query-error', (error: { code?: string }) => codes.push(String(error.code)));
      const insert = db('items').insert({ id: 1 });
      await insert;
      expect(codes[0]).toBe('SQLITE_BUSY');
      expect(await db('items').select('id')).toEqual([{ id: 1 }]);
    } finally {
      await db.destroy();
    }
  });
});
