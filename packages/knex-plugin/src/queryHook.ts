import { trace } from '@opentelemetry/api';
import type { Knex } from 'knex';
import { noteStatementFailure } from './connections.js';

/** The internals of a Knex `Runner` the hook touches. */
interface RunnerLike {
  connection?: unknown;
  builder: unknown;
  query: (this: RunnerLike, obj: unknown) => Promise<unknown>;
  run: (this: RunnerLike) => Promise<unknown>;
}

interface ClientLike {
  runner: (this: ClientLike, builder: unknown) => RunnerLike;
}

/**
 * Runs one logical query: `attempt(n)` runs attempt `n` on a fresh Knex runner (so each attempt
 * acquires its own connection) and the executor decides on retries.
 */
export type QueryExecutor = (
  builder: unknown,
  attempt: (attempt: number) => Promise<unknown>,
) => Promise<unknown>;

/**
 * Routes every query built on `knex` (outside transactions: a transaction's queries run on its own
 * client) through `execute`. Queries bound to an explicit connection (`.connection(c)`) and streams
 * run as before. Returns the function that removes the hook.
 */
export function installQueryHook(knex: Knex, execute: QueryExecutor): () => void {
  const client = knex.client as ClientLike;
  const hadOwn = Object.hasOwn(client, 'runner');
  const previous = client.runner;
  client.runner = function runner(this: ClientLike, builder: unknown): RunnerLike {
    const first = previous.call(this, builder);
    if ((builder as { _connection?: unknown })._connection) return first;
    const run = first.run;
    first.run = () =>
      execute(builder, (attempt) => {
        const current = attempt === 1 ? first : previous.call(client, builder);
        current.builder = inActiveContext(builder);
        trackStatements(current);
        return run.call(current);
      });
    return first;
  };
  return () => {
    if (hadOwn) client.runner = previous;
    else delete (client as Partial<ClientLike>).runner;
  };
}

/** Notes every failed statement of `runner` against the connection it ran on. */
function trackStatements(runner: RunnerLike): void {
  const query = runner.query;
  runner.query = function trackedQuery(obj) {
    return query.call(this, obj).catch((error: unknown) => {
      noteStatementFailure(this.connection, error);
      throw error;
    });
  };
}

/** The property `@opentelemetry/instrumentation-knex` pins a builder's creation context under. */
const PINNED_CONTEXT = 'opentelemetry.instrumentation-knex.context';

/**
 * `builder`, seen without the context the knex instrumentation pinned on it when it was created:
 * the instrumentation then parents its statement span to the active context — the plugin's
 * attempt span — instead of the caller's, so each attempt's statement nests under its attempt.
 * Without the instrumentation (no pinned context) the builder itself.
 */
function inActiveContext(builder: unknown): unknown {
  // Nothing to re-parent unless an attempt span records (no SDK: no statement spans either).
  if (typeof builder !== 'object' || builder === null || !trace.getActiveSpan()?.isRecording()) {
    return builder;
  }
  const pinned = Object.getOwnPropertySymbols(builder).find(
    (s) => s.description === PINNED_CONTEXT,
  );
  if (pinned === undefined) return builder;
  // The pinned property is read-only, so a view of the builder shadows it with its own.
  const view = Object.create(builder) as object;
  Object.defineProperty(view, pinned, { value: undefined });
  return view;
}
