import type { Knex } from 'knex';
import { evict } from './connections.js';

interface PoolLike {
  validate: (connection: unknown) => unknown;
}

interface ClientLike {
  pool?: PoolLike;
  _query: (connection: unknown, obj: { sql: string; bindings: unknown[] }) => Promise<unknown>;
  initializePool?: (...args: unknown[]) => unknown;
}

/**
 * Pings every connection the pool is about to hand out and replaces it when the ping fails or
 * does not answer within `timeoutMs`. Returns the function that removes it.
 */
export function installPing(knex: Knex, timeoutMs: number): () => void {
  const client = knex.client as unknown as ClientLike;
  let patched: { pool: PoolLike; validate: PoolLike['validate'] } | undefined;
  const patch = (pool: PoolLike) => {
    const validate = pool.validate;
    patched = { pool, validate };
    pool.validate = async (connection: unknown) =>
      (await validate.call(pool, connection)) === true && ping(client, connection, timeoutMs);
  };
  if (client.pool !== undefined) {
    patch(client.pool);
    return () => {
      if (patched !== undefined) patched.pool.validate = patched.validate;
    };
  }
  // Knex creates the pool on first use when it was built without a connection.
  const hadOwn = Object.hasOwn(client, 'initializePool');
  const initializePool = client.initializePool;
  client.initializePool = function (this: ClientLike, ...args: unknown[]) {
    const result = initializePool?.apply(this, args);
    if (this.pool !== undefined && patched === undefined) patch(this.pool);
    return result;
  };
  return () => {
    if (hadOwn) client.initializePool = initializePool;
    else delete client.initializePool;
    if (patched !== undefined) patched.pool.validate = patched.validate;
  };
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
