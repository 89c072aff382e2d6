/* Test support (not part of the build: only index.ts is): the databases the suites run against. */
import knexFactory, { type Knex } from 'knex';
import { describe, it } from 'vitest';

/** A database a suite runs against. */
export interface DatabaseTarget {
  /** Suite label: `SQLite`, `PostgreSQL`, `MariaDB`. */
  readonly label: string;
  readonly dialect: 'sqlite' | 'postgresql' | 'mysql';
  /** Knex config for a new instance (pool settings may be overridden by the caller). */
  readonly config: (pool?: Knex.PoolConfig) => Knex.Config;
  /** The environment variable that points the suite at another server. */
  readonly envVar?: string;
}

/**
 * Knex's logger with warnings off: every killed connection logs "Connection Error" by design,
 * which would bury the test output. Errors and deprecations still print.
 */
export const QUIET_LOG = { warn: () => {} };

/** PostgreSQL URL: `OTEL_RESILIENCE_TEST_PG_URL`, default the local trust-auth server. */
export const PG_URL =
  process.env.OTEL_RESILIENCE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** MariaDB/MySQL URL: `OTEL_RESILIENCE_TEST_MYSQL_URL`, default the local root account. */
export const MYSQL_URL =
  process.env.OTEL_RESILIENCE_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

/**
 * Whether a missing server fails the suite instead of skipping it: on in CI (`CI=true`) and with
 * `OTEL_RESILIENCE_REQUIRE_DATABASES=1`.
 */
export const DATABASES_REQUIRED =
  process.env.CI === 'true' || process.env.OTEL_RESILIENCE_REQUIRE_DATABASES === '1';

export const SQLITE: DatabaseTarget = {
  label: 'SQLite',
  dialect: 'sqlite',
  config: (pool) => ({
    client: 'better-sqlite3',
    connection: { filename: ':memory:' },
    log: QUIET_LOG,
    useNullAsDefault: true,
    ...(pool === undefined ? {} : { pool }),
  }),
};

export const POSTGRES: DatabaseTarget = {
  label: 'PostgreSQL',
  dialect: 'postgresql',
  envVar: 'OTEL_RESILIENCE_TEST_PG_URL',
  config: (pool) => ({
    client: 'pg',
    connection: PG_URL,
    log: QUIET_LOG,
    pool: { min: 0, max: 4, ...pool },
  }),
};

export const MARIADB: DatabaseTarget = {
  label: 'MariaDB',
  dialect: 'mysql',
  envVar: 'OTEL_RESILIENCE_TEST_MYSQL_URL',
  config: (pool) => ({
    client: 'mysql2',
    connection: MYSQL_URL,
    log: QUIET_LOG,
    pool: { min: 0, max: 4, ...pool },
  }),
};

const reachability = new Map<DatabaseTarget, Promise<string | undefined>>();

/** `undefined` when `target` answers `select 1`, else why not. Cached per process. */
export function unreachableReason(target: DatabaseTarget): Promise<string | undefined> {
  let found = reachability.get(target);
  if (found === undefined) {
    found = (async () => {
      const db = knexFactory(target.config({ min: 0, max: 1, acquireTimeoutMillis: 3_000 }));
      try {
        await db.raw('select 1');
        return undefined;
      } catch (error) {
        return error instanceof Error
          ? ((error as { code?: string }).code ?? error.message)
          : String(error);
      } finally {
        await db.destroy();
      }
    })();
    reachability.set(target, found);
  }
  return found;
}

/**
 * `describe` for a suite that needs `target`'s server: skipped with a one-line message when the
 * server is unreachable, failed instead when {@link DATABASES_REQUIRED}.
 */
export async function describeDatabase(
  target: DatabaseTarget,
  name: string,
  body: () => void,
): Promise<void> {
  const reason = await unreachableReason(target);
  if (reason === undefined) {
    describe(`${name} (${target.label})`, body);
    return;
  }
  const hint =
    target.envVar === undefined
      ? 'its native module must be built for this Node version (reinstall dependencies with it)'
      : `set ${target.envVar} to a server`;
  const message = `${target.label} unavailable (${reason}): ${hint} to run "${name}"`;
  if (DATABASES_REQUIRED) {
    describe(`${name} (${target.label})`, () => {
      it('has its database', () => {
        throw new Error(`${message}; CI requires it`);
      });
    });
    return;
  }
  console.warn(`skipped: ${message}`);
  describe.skip(`${name} (${target.label})`, body);
}

/** Every target, SQLite first. */
export const ALL_DATABASES: readonly DatabaseTarget[] = [SQLITE, POSTGRES, MARIADB];

/** The server-backed targets (faults such as killed connections need a server). */
export const SERVER_DATABASES: readonly DatabaseTarget[] = [POSTGRES, MARIADB];
