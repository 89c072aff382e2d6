/* Test support: real faults injected from an administrative connection. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import knexFactory, { type Knex } from 'knex';
import { afterAll, beforeAll } from 'vitest';
import { MYSQL_URL, PG_URL, QUIET_LOG } from './databases.js';
import { FaultProxy } from './FaultProxy.js';

/** A short unique name for tables, application names and markers of one test. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Math.random().toString(36).slice(2, 10)}`;
}

/** A PostgreSQL Knex config whose connections carry `applicationName` (to find their backends). */
export function pgConfig(applicationName: string, pool: Knex.PoolConfig = {}): Knex.Config {
  return {
    client: 'pg',
    connection: { connectionString: PG_URL, application_name: applicationName },
    log: QUIET_LOG,
    pool: { min: 0, max: 4, ...pool },
  };
}

/** A MariaDB Knex config. */
export function mysqlConfig(pool: Knex.PoolConfig = {}): Knex.Config {
  return {
    client: 'mysql2',
    connection: MYSQL_URL,
    log: QUIET_LOG,
    pool: { min: 0, max: 4, ...pool },
  };
}

/** An administrative connection (never the plugin's) for injecting faults and checking data. */
export function adminKnex(dialect: 'postgresql' | 'mysql'): Knex {
  return knexFactory(
    dialect === 'postgresql'
      ? { client: 'pg', connection: PG_URL, log: QUIET_LOG, pool: { min: 0, max: 2 } }
      : { client: 'mysql2', connection: MYSQL_URL, log: QUIET_LOG, pool: { min: 0, max: 2 } },
  );
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Waits (at most `timeoutMs`) until a statement containing `marker` runs, and returns its
 * backend's pid (PostgreSQL) or connection id (MariaDB).
 */
export async function waitForStatement(
  admin: Knex,
  dialect: 'postgresql' | 'mysql',
  marker: string,
  timeoutMs = 5_000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const rows =
      dialect === 'postgresql'
        ? (
            await admin.raw(
              "select pid as id from pg_stat_activity where state = 'active' and query like ? and pid <> pg_backend_pid()",
              [`%${marker}%`],
            )
          ).rows
        : (
            await admin.raw(
              'select id from information_schema.processlist where info like ? and id <> connection_id()',
              [`%${marker}%`],
            )
          )[0];
    const id = (rows as Array<{ id: number | string }>)[0]?.id;
    if (id !== undefined) return Number(id);
    await sleep(10);
  }
  throw new Error(`no running statement contains ${marker} after ${timeoutMs} ms`);
}

/** Kills a backend: `pg_terminate_backend` or MariaDB's `KILL CONNECTION`. */
export async function killConnection(
  admin: Knex,
  dialect: 'postgresql' | 'mysql',
  id: number,
): Promise<void> {
  if (dialect === 'postgresql') await admin.raw('select pg_terminate_backend(?)', [id]);
  else await admin.raw(`KILL CONNECTION ${Number(id)}`);
}

/** Terminates every PostgreSQL backend of `applicationName` (pooled idle ones included). */
export async function terminateApplication(admin: Knex, applicationName: string): Promise<number> {
  const result = await admin.raw(
    'select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where application_name = ?',
    [applicationName],
  );
  return (result.rows as Array<{ n: number }>)[0]?.n ?? 0;
}

/** A statement that sleeps `seconds` on the server, tagged with `marker` so it can be found. */
export function sleepSql(dialect: 'postgresql' | 'mysql', seconds: number, marker: string): string {
  return dialect === 'postgresql'
    ? `select pg_sleep(${seconds}) as ${marker}`
    : `select sleep(${seconds}) as ${marker}`;
}

/** The URL of `dialect`'s test server. */
export function urlOf(dialect: 'postgresql' | 'mysql'): string {
  return dialect === 'postgresql' ? PG_URL : MYSQL_URL;
}

/** A fault proxy in front of `dialect`'s test server. */
export function startProxy(dialect: 'postgresql' | 'mysql'): Promise<FaultProxy> {
  const address = new URL(urlOf(dialect));
  return FaultProxy.start({
    target: { host: address.hostname, port: Number(address.port) },
    protocol: dialect,
  });
}

/** A Knex config that reaches `dialect`'s test server through `proxy`. */
export function proxiedConfig(
  proxy: FaultProxy,
  dialect: 'postgresql' | 'mysql',
  extra: Partial<Knex.Config> = {},
): Knex.Config {
  return {
    client: dialect === 'postgresql' ? 'pg' : 'mysql2',
    connection: proxy.url(urlOf(dialect)),
    log: QUIET_LOG,
    pool: { min: 0, max: 2 },
    ...extra,
  };
}

/**
 * A SQLite file database whose connections give up at once on a lock (`busy_timeout = 0`), so a
 * second handle holding `BEGIN IMMEDIATE` makes them fail with `SQLITE_BUSY`.
 */
export function impatientSqliteConfig(filename: string): Knex.Config {
  return {
    client: 'better-sqlite3',
    connection: { filename },
    useNullAsDefault: true,
    log: QUIET_LOG,
    pool: {
      afterCreate: (
        conn: { pragma(sql: string): unknown },
        done: (error: unknown, conn: unknown) => void,
      ) => {
        conn.pragma('busy_timeout = 0');
        done(null, conn);
      },
    },
  };
}

/** A temporary directory for the enclosing suite; returns a function giving a new file path in it. */
export function useTempSqliteFiles(): () => string {
  let dir: string | undefined;
  let count = 0;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'otel-resilience-knex-'));
  });
  afterAll(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });
  return () => join(dir as string, `db-${++count}.sqlite`);
}

/**
 * Takes SQLite's write lock on `filename` now, through a second handle (`BEGIN IMMEDIATE`), and
 * releases it after `ms`.
 */
export function holdSqliteWriteLock(filename: string, ms: number): void {
  const other = new Database(filename);
  other.exec('BEGIN IMMEDIATE');
  setTimeout(() => {
    other.exec('COMMIT');
    other.close();
  }, ms);
}
