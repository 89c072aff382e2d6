import type { Knex } from 'knex';
import { noteStatementFailure } from './connections.js';

/** What happened to one transaction's COMMIT. */
export interface CommitState {
  /** COMMIT was handed to the driver: from here a lost connection leaves the outcome unknown. */
  inFlight: boolean;
  /**
   * PostgreSQL transaction id read just before COMMIT (`txid_current_if_assigned()`): `null` when
   * the transaction wrote nothing, `undefined` when not read.
   */
  txid: string | null | undefined;
}

interface TransactionClient {
  query: (this: TransactionClient, connection: unknown, obj: unknown) => Promise<unknown>;
}

const COMMIT = /^\s*COMMIT\s*;?\s*$/i;

/** Reads the transaction id before COMMIT; a string because it is a 64-bit number. */
const TXID_SQL = 'select txid_current_if_assigned()::text as txid';

/**
 * Follows the statements of transaction `trx` on its own client (Knex gives every transaction a
 * client of its own, created from the dialect's prototype, so the plugin's query hook does not see
 * them): evicts a connection that died, notes when COMMIT goes out, and — with `readTxid` —
 * first reads the transaction id the database can later be asked about.
 */
export function trackCommit(trx: Knex.Transaction, readTxid: boolean): CommitState {
  const state: CommitState = { inFlight: false, txid: undefined };
  const client = trx.client as unknown as TransactionClient;
  const query = client.query;
  // The dialect's own query, without the transaction client's "already completed" check: Knex
  // marks the transaction completed as soon as it hands COMMIT over, before the txid is read.
  const dialectQuery = (Object.getPrototypeOf(client) as TransactionClient).query;
  const run = (
    send: TransactionClient['query'],
    connection: unknown,
    obj: unknown,
  ): Promise<unknown> =>
    send.call(client, connection, obj).catch((error: unknown) => {
      noteStatementFailure(connection, error);
      throw error;
    });
  client.query = function trackedQuery(connection, obj) {
    const sql = typeof obj === 'string' ? obj : (obj as { sql?: unknown } | undefined)?.sql;
    if (typeof sql !== 'string' || !COMMIT.test(sql) || trx.isCompleted()) {
      return run(query, connection, obj);
    }
    if (!readTxid) {
      state.inFlight = true;
      return run(query, connection, obj);
    }
    return (async () => {
      const result = (await run(dialectQuery, connection, { sql: TXID_SQL, bindings: [] })) as {
        response?: { rows?: Array<{ txid: string | null }> };
      };
      state.txid = result.response?.rows?.[0]?.txid ?? null;
      state.inFlight = true;
      return run(dialectQuery, connection, obj);
    })();
  };
  return state;
}
