/** What the plugin needs to know about a query before running it. */
export interface QueryShape {
  /** `db.operation.name`: an SQL verb from a fixed set (`SELECT`, `INSERT`, ...), else undefined. */
  readonly operation: string | undefined;
  /** `db.collection.name`: the table a builder targets, when it names one. */
  readonly collection: string | undefined;
  /** Whether running it twice is harmless: a read (`SELECT`, `SHOW`, `EXPLAIN`, `VALUES`). */
  readonly read: boolean;
}

/** Knex builder methods and the SQL verb each one runs. */
const BUILDER_OPERATIONS: Readonly<Record<string, string>> = {
  select: 'SELECT',
  first: 'SELECT',
  pluck: 'SELECT',
  columnInfo: 'SELECT',
  insert: 'INSERT',
  upsert: 'INSERT',
  update: 'UPDATE',
  counter: 'UPDATE',
  del: 'DELETE',
  delete: 'DELETE',
  truncate: 'TRUNCATE',
};

/** Leading SQL keywords reported as `db.operation.name` for raw queries (bounded on purpose). */
const RAW_OPERATIONS = new Set([
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'MERGE',
  'REPLACE',
  'UPSERT',
  'WITH',
  'VALUES',
  'SHOW',
  'EXPLAIN',
  'CALL',
  'CREATE',
  'ALTER',
  'DROP',
  'TRUNCATE',
  'GRANT',
  'REVOKE',
  'SET',
  'LOCK',
  'COPY',
  'VACUUM',
  'ANALYZE',
  'PRAGMA',
]);

/** Operations that change nothing, so a repeat after a lost connection is harmless. */
const READ_OPERATIONS = new Set(['SELECT', 'VALUES', 'SHOW', 'EXPLAIN']);

interface BuilderLike {
  readonly _method?: unknown;
  readonly _single?: { readonly table?: unknown };
  readonly sql?: unknown;
}

/**
 * The shape of a Knex query builder, raw query or schema builder. A `WITH` query counts as a
 * write (a CTE may modify data); anything unrecognised is a write: the plugin errs towards not
 * repeating work.
 */
export function queryShapeOf(builder: unknown): QueryShape {
  const b = builder as BuilderLike;
  if (typeof b._method === 'string') {
    const operation = BUILDER_OPERATIONS[b._method];
    const table = b._single?.table;
    return {
      operation,
      collection: typeof table === 'string' ? table : undefined,
      read: operation === 'SELECT',
    };
  }
  if (typeof b.sql === 'string') {
    const keyword = /^\s*\(?\s*([A-Za-z]+)/.exec(b.sql)?.[1]?.toUpperCase();
    const operation = keyword !== undefined && RAW_OPERATIONS.has(keyword) ? keyword : undefined;
    return {
      operation,
      collection: undefined,
      read: operation !== undefined && READ_OPERATIONS.has(operation),
    };
  }
  return { operation: undefined, collection: undefined, read: false };
}
