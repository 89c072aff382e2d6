import { afterEach, expect, it } from 'vitest';
import { type ExampleDatabase, findOrder, openDatabase, placeOrder } from './database.js';
import { SEEDED_ORDERS } from './settings.js';
import { describeWithSqlite } from './sqliteSuite.js';

const opened: ExampleDatabase[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((d) => d.close()));
});

describeWithSqlite('openDatabase (SQLite)', () => {
  it('creates the schema in a temporary file, seeds orders and places new ones', async () => {
    const database = await openDatabase();
    opened.push(database);
    expect(database.system).toBe('sqlite');
    expect(database.location).toMatch(/otel-resilience-example-.*orders\.sqlite$/);
    await database.ping();
    expect(await findOrder(database.db, SEEDED_ORDERS)).toMatchObject({ id: SEEDED_ORDERS });
    expect(await findOrder(database.db, SEEDED_ORDERS + 1)).toBeUndefined();
    const placed = await placeOrder(database.db, { sku: 'A1', quantity: 2 });
    expect(placed).toEqual({ id: SEEDED_ORDERS + 1 });
    expect(await placeOrder(database.db, { sku: 'ZZ', quantity: 1 })).toEqual({
      error: 'unknown_sku',
    });
    expect(database.db.resilience.breaker?.state).toBe('closed');
  });

  it('re-runs a transaction that met the write lock (SQLITE_BUSY) until it gets through', async () => {
    const database = await openDatabase({
      resilience: { transactionRetry: { maxAttempts: 10 } },
    });
    opened.push(database);
    const lock = database.holdWriteLock(150);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const started = performance.now();
    const placed = await placeOrder(database.db, { sku: 'B2', quantity: 1 });
    await lock;
    expect(placed).toEqual({ id: SEEDED_ORDERS + 1 });
    // It could only commit once the lock was released.
    expect(performance.now() - started).toBeGreaterThanOrEqual(100);
  });
});
