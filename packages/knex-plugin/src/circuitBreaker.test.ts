import knexFactory, { type Knex } from 'knex';
import { isBrokenCircuitError } from 'otel-resilience';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { withQueryOptions } from './queryOptions.js';
import { describeDatabase, MARIADB, POSTGRES } from './testing/databases.js';
import type { FaultProxy } from './testing/FaultProxy.js';
import { proxiedConfig, startProxy } from './testing/faults.js';
import { withResilience } from './withResilience.js';

const ACQUIRE_TIMEOUT_MS = 300;

for (const target of [POSTGRES, MARIADB]) {
  const dialect = target.dialect as 'postgresql' | 'mysql';

  await describeDatabase(target, 'the database circuit breaker and connection recovery', () => {
    let proxy: FaultProxy;
    let plain: Knex;

    beforeEach(async () => {
      proxy = await startProxy(dialect);
      plain = knexFactory(
        proxiedConfig(proxy, dialect, { acquireConnectionTimeout: ACQUIRE_TIMEOUT_MS }),
      );
    });
    afterEach(async () => {
      await proxy.close(); // first: connections a blackhole holds would keep destroy() waiting
      await plain.destroy();
    });

    const timed = async (work: () => Promise<unknown>) => {
      const start = performance.now();
      const error = await work().then(
        () => undefined,
        (e: unknown) => e,
      );
      return { error, ms: performance.now() - start };
    };

    it('fails fast while the database is unreachable, and closes again through half-open trials', async () => {
      const db = withResilience(plain, {
        retry: false,
        circuitBreaker: { halfOpenAfterMs: 600, successThreshold: 1 },
      });
      await db.raw('select 1');
      proxy.refuse('blackhole');
      proxy.dropAll();
      await new Promise((resolve) => setTimeout(resolve, 50)); // the pool notices the drop
      // Five calls each wait for the pool's acquire timeout, then the circuit opens.
      for (let i = 0; i < 5; i++) {
        const { error, ms } = await timed(() => db.raw('select 1'));
        expect((error as Error).name).toBe('KnexTimeoutError');
        expect(ms).toBeGreaterThanOrEqual(ACQUIRE_TIMEOUT_MS - 20);
      }
      expect(db.resilience.breaker?.state).toBe('open');
      const { error, ms } = await timed(() => db.raw('select 1'));
      expect(isBrokenCircuitError(error)).toBe(true);
      expect(ms).toBeLessThan(ACQUIRE_TIMEOUT_MS / 3);

      await proxy.resume();
      // Connection attempts the blackhole held fail now; let them, before probing.
      await new Promise((resolve) => setTimeout(resolve, 100));
      // While it is open, a query marked circuitBreaker: false still reaches the database.
      await expect(
        withQueryOptions(db.raw('select 1 as probe'), { circuitBreaker: false }),
      ).resolves.toBeDefined();
      expect(isBrokenCircuitError(await db.raw('select 1').catch((e: unknown) => e))).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 650));
      await expect(db.raw('select 1')).resolves.toBeDefined();
      expect(db.resilience.breaker?.state).toBe('closed');
    });

    it('connections lost mid-query do not open it: the server was up', async () => {
      const db = withResilience(plain, { retry: false });
      for (let round = 0; round < 3; round++) {
        const running = Array.from({ length: 4 }, () =>
          Promise.resolve(
            db.raw(dialect === 'postgresql' ? 'select pg_sleep(2)' : 'select sleep(2)'),
          ).then(
            () => 'ok',
            () => 'lost',
          ),
        );
        await new Promise((resolve) => setTimeout(resolve, 100));
        proxy.dropAll();
        expect(await Promise.all(running)).toContain('lost');
      }
      expect(db.resilience.breaker?.state).toBe('closed');
      await expect(db.raw('select 1')).resolves.toBeDefined();
    });

    it('answers from the database do not open it: errors on a missing table leave it closed', async () => {
      const db = withResilience(plain, { retry: false });
      for (let i = 0; i < 8; i++) {
        await expect(db.raw('select * from no_such_table_anywhere')).rejects.toThrow();
      }
      expect(db.resilience.breaker?.state).toBe('closed');
    });

    it('after every connection dropped (a restart), the first query succeeds without a retry', async () => {
      const db = withResilience(plain, { retry: false });
      await Promise.all([db.raw('select 1'), db.raw('select 1')]);
      expect(proxy.dropAll()).toBe(2);
      await new Promise((resolve) => setTimeout(resolve, 50));
      await expect(db.raw('select 1 as one')).resolves.toBeDefined();
    });

    it('with validateOnAcquire, a pooled connection that went silent is replaced by the ping', async () => {
      const db = withResilience(plain, { retry: false, validateOnAcquire: { timeoutMs: 150 } });
      await db.raw('select 1');
      // The pooled connection's server side goes quiet without closing: only a ping notices.
      const silenced = await silencePooledConnections(proxy);
      expect(silenced).toBe(1);
      await expect(db.raw('select 2 as two')).resolves.toBeDefined();
    });
  });
}

/** Makes every open connection through `proxy` stop answering, without closing it. */
async function silencePooledConnections(proxy: FaultProxy): Promise<number> {
  return proxy.silenceAll();
}
