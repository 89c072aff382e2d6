/**
 * The example services' database: Knex with the resilience plugin, on a SQLite file in a fresh
 * temporary directory (embedded, nothing to install) or on PostgreSQL when a URL is given. The
 * tables are created when missing and a few orders are seeded, so reads find rows from the start
 * (prefixed, so that they do not meet an application's own tables in a shared database):
 *
 *   example_orders(id, sku, quantity, status, created_at)
 *   example_stock(sku, available, reserved)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import knex, { type Knex } from 'knex';
import { type ResilientKnex, withResilience } from 'otel-resilience-knex';
import { DB_NAME, SEEDED_ORDERS, SKUS } from './settings.js';

/** The tables, prefixed so that a shared PostgreSQL database's own tables are left alone. */
export const TABLES = { orders: 'example_orders', stock: 'example_stock' } as const;

/** What this module uses of a better-sqlite3 connection (the package ships no types). */
interface SqliteConnection {
  pragma(source: string): unknown;
  exec(source: string): unknown;
  close(): void;
}
const Database = createRequire(import.meta.url)('better-sqlite3') as new (
  filename: string,
  options?: { timeout?: number },
) => SqliteConnection;

export interface DatabaseOptions {
  /** A PostgreSQL URL (`postgres://user@host:5432/db`); default: SQLite in a temp directory. */
  readonly url?: string;
  /** Options of `withResilience` (name and breaker timings, ...). */
  readonly resilience?: Parameters<typeof withResilience>[1];
  /**
   * SQLite busy timeout in ms: how long a write waits for a lock before SQLITE_BUSY. better-sqlite3
   * waits synchronously (the event loop stalls meanwhile), so keep it short. Default 10.
   */
  readonly sqliteBusyTimeoutMs?: number;
}

export interface ExampleDatabase {
  /** The Knex instance, plugin enabled. */
  readonly db: ResilientKnex;
  readonly system: 'sqlite' | 'postgresql';
  /** Where the data is, without credentials: a file path or `host:port/database`. */
  readonly location: string;
  /** A health check: resolves when `select 1` answers. */
  ping(): Promise<void>;
  /**
   * Holds the database's write lock for `ms` from a second connection (SQLite only; resolves at
   * once elsewhere): writes meanwhile fail with SQLITE_BUSY after the busy timeout, and the
   * plugin re-runs their transactions.
   */
  holdWriteLock(ms: number): Promise<void>;
  /** Destroys the pool and removes the temporary directory. */
  close(): Promise<void>;
}

export async function openDatabase(options: DatabaseOptions = {}): Promise<ExampleDatabase> {
  const url = options.url?.trim();
  let config: Knex.Config;
  let location: string;
  let directory: string | undefined;
  const system: ExampleDatabase['system'] =
    url !== undefined && url !== '' ? 'postgresql' : 'sqlite';
  if (system === 'postgresql') {
    const parsed = new URL(url as string);
    location = `${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`;
    config = {
      client: 'pg',
      connection: url,
      pool: { min: 0, max: 10, acquireTimeoutMillis: 2_000 },
    };
  } else {
    directory = mkdtempSync(join(tmpdir(), 'otel-resilience-example-'));
    location = join(directory, 'orders.sqlite');
    const busyTimeout = options.sqliteBusyTimeoutMs ?? 10;
    config = {
      client: 'better-sqlite3',
      connection: { filename: location },
      useNullAsDefault: true,
      pool: {
        min: 1,
        max: 1,
        acquireTimeoutMillis: 2_000,
        afterCreate(connection: SqliteConnection, done: (error: Error | null, c: unknown) => void) {
          connection.pragma('journal_mode = WAL');
          connection.pragma(`busy_timeout = ${busyTimeout}`);
          done(null, connection);
        },
      },
    };
  }

  const db = withResilience(knex(config), { name: DB_NAME, ...options.resilience });
  try {
    await createSchema(db);
  } catch (error) {
    await db.destroy();
    if (directory !== undefined) rmSync(directory, { recursive: true, force: true });
    throw error;
  }

  return {
    db,
    system,
    location,
    async ping() {
      await db.raw('select 1');
    },
    async holdWriteLock(ms: number) {
      if (system !== 'sqlite') return;
      // better-sqlite3 is synchronous: a busy wait here would block the event loop, and with it
      // the app's own connection that holds the lock. So no busy timeout: poll every 5 ms.
      const other = new Database(location, { timeout: 0 });
      try {
        for (let attempt = 0; ; attempt++) {
          try {
            other.exec('BEGIN IMMEDIATE');
            break;
          } catch (error) {
            if (
              attempt >= 200 ||
              !String((error as { code?: unknown }).code).startsWith('SQLITE_BUSY')
            ) {
              throw error;
            }
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
        }
        await new Promise((resolve) => setTimeout(resolve, ms));
        other.exec('ROLLBACK');
      } finally {
        other.close();
      }
    },
    async close() {
      await db.destroy();
      if (directory !== undefined) rmSync(directory, { recursive: true, force: true });
    },
  };
}

async function createSchema(db: Knex): Promise<void> {
  if (!(await db.schema.hasTable(TABLES.stock))) {
    await db.schema.createTable(TABLES.stock, (t) => {
      t.string('sku', 16).primary();
      t.integer('available').notNullable();
      t.integer('reserved').notNullable().defaultTo(0);
    });
  }
  if (!(await db.schema.hasTable(TABLES.orders))) {
    await db.schema.createTable(TABLES.orders, (t) => {
      t.increments('id').primary();
      t.string('sku', 16).notNullable();
      t.integer('quantity').notNullable();
      t.string('status', 16).notNullable();
      t.timestamp('created_at').notNullable().defaultTo(db.fn.now());
    });
  }
  await db(TABLES.stock)
    .insert(SKUS.map((sku) => ({ sku, available: 1_000_000, reserved: 0 })))
    .onConflict('sku')
    .ignore();
  const { count } = (await db(TABLES.orders).count({ count: '*' }).first()) as {
    count: number | string;
  };
  const missing = SEEDED_ORDERS - Number(count);
  if (missing > 0) {
    await db(TABLES.orders).insert(
      Array.from({ length: missing }, (_, i) => ({
        sku: SKUS[i % SKUS.length],
        quantity: 1 + (i % 3),
        status: 'placed',
      })),
    );
  }
}

/** Places an order in one transaction: reserves stock, then inserts the order. */
export async function placeOrder(
  db: ResilientKnex,
  order: { sku: string; quantity: number },
): Promise<{ id: number } | { error: 'unknown_sku' | 'out_of_stock' }> {
  return db.transaction(async (trx) => {
    const stock = await trx(TABLES.stock).where({ sku: order.sku }).first();
    if (stock === undefined) return { error: 'unknown_sku' as const };
    if (stock.available - stock.reserved < order.quantity)
      return { error: 'out_of_stock' as const };
    await trx(TABLES.stock).where({ sku: order.sku }).increment('reserved', order.quantity);
    const [row] = await trx(TABLES.orders)
      .insert({ sku: order.sku, quantity: order.quantity, status: 'placed' })
      .returning('id');
    return { id: Number(typeof row === 'object' ? row.id : row) };
  });
}

/** One order by id, or `undefined`. */
export async function findOrder(
  db: ResilientKnex,
  id: number,
): Promise<{ id: number; sku: string; quantity: number; status: string } | undefined> {
  return db(TABLES.orders).where({ id }).first('id', 'sku', 'quantity', 'status');
}
