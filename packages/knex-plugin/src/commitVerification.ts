import type { Knex } from 'knex';
import { withQueryOptions } from './queryOptions.js';

/** What PostgreSQL says about a transaction id (`txid_status`). */
export type CommitStatus = 'committed' | 'aborted' | 'unknown';

/** How often, and how long apart (ms), an `in progress` answer is asked again. */
const POLLS = 8;
const POLL_INTERVAL_MS = 50;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Asks PostgreSQL, on a fresh connection, whether transaction `txid` committed. A backend whose
 * client vanished mid-COMMIT finishes (or aborts) on its own, so `in progress` is asked again a
 * few times; `unknown` when it stays in progress or the id is too old to be remembered (NULL).
 * Rejects when the database cannot be reached.
 */
export async function commitStatusOf(knex: Knex, txid: string): Promise<CommitStatus> {
  for (let poll = 0; poll < POLLS; poll++) {
    if (poll > 0) await sleep(POLL_INTERVAL_MS * poll);
    // Past the breaker: a breaker opened by the very outage that lost the COMMIT must not stop
    // the database from being asked.
    const query = knex.raw('select txid_status(?::bigint) as status', [txid]);
    const result = (await withQueryOptions(query, { circuitBreaker: false })) as {
      rows: Array<{ status: string | null }>;
    };
    const status = result.rows[0]?.status ?? null;
    if (status === 'committed' || status === 'aborted') return status;
    if (status === null) return 'unknown';
  }
  return 'unknown';
}
