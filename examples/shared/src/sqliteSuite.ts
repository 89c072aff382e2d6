/* Test support: suites that need the embedded SQLite driver. */
import { createRequire } from 'node:module';
import { describe, it } from 'vitest';

/**
 * Why better-sqlite3 cannot load in this process, or `undefined` when it can. Its native module
 * is built for the Node version that installed the dependencies: `pnpm test:node24` runs the
 * suites on another Node, where it cannot load.
 */
function sqliteUnavailableReason(): string | undefined {
  try {
    const Database = createRequire(import.meta.url)('better-sqlite3') as new (
      file: string,
    ) => { close(): void };
    new Database(':memory:').close();
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

const reason = sqliteUnavailableReason();

/**
 * `describe` for a suite whose service runs on SQLite: skipped with a one-line message when the
 * driver cannot load in this Node, failed instead in CI (`CI=true`).
 */
export function describeWithSqlite(name: string, body: () => void): void {
  if (reason === undefined) {
    describe(name, body);
    return;
  }
  const message = `better-sqlite3 cannot load on Node ${process.versions.node} (${reason}): reinstall dependencies with this Node to run "${name}"`;
  if (process.env.CI === 'true') {
    describe(name, () => {
      it('has its SQLite driver', () => {
        throw new Error(message);
      });
    });
    return;
  }
  console.warn(`skipped: ${message}`);
  describe.skip(name, body);
}
