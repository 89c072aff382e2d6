import type { Knex } from 'knex';
import type { Disposable } from 'otel-resilience';
import { evict } from './connections.js';
import { followPool } from './followPool.js';

interface ClientLike {
  _query: (connection: unknown, obj: { sql: string; bindings: unknown[] }) => Promise<unknown>;
}

/**
 * Pings every connection the pool is about to hand out and replaces it when the ping fails or
 * does not answer within `timeoutMs`: catches connections that died silently.
 */
export function installPing(knex: Knex, timeoutMs: number): Disposable {
  const client = knex.client as ClientLike;
  return followPool(knex, 'validateOnAcquire', (pool) => {
    const validate = pool.validate;
    pool.validate = async (connection: unknown) =>
      (await validate.call(pool, connection)) === true && ping(client, connection, timeoutMs);
    return {
      dispose: () => {
        pool.validate = validate;
      },
    };
  });
}

async function ping(client: ClientLike, connection: unknown, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client._query(connection, { sql: 'select 1', bindings: [] }),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`ping not answered within ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]);
    return true;
  } catch (error) {
    evict(connection, error);
    return false;
  } finally {
    clearTimeout(timer);
  }
}
