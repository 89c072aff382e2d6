/**
 * The "Knex plugin" section of BENCHMARKS.md, between markers so that `pnpm bench:knex` can
 * regenerate it alone (bench/src/knex/run.ts).
 */
import { cpus } from 'node:os';
import { markedSection, type SectionOptions } from '../section.js';
import { installedVersion, serverVersion } from './common.js';
import { knexOverheadSection } from './overhead.js';
import { knexRecoverySection } from './recovery.js';

/** Runs the Knex benchmarks and returns the section, markers included. */
export async function knexSection({ quick, progress = () => {} }: SectionOptions): Promise<string> {
  const rounds = quick ? 7 : 41;
  const iterations = quick
    ? { sqlite: 2_000, postgres: 200, transaction: 40 }
    : { sqlite: 3_000, postgres: 300, transaction: 60 };
  const seconds = quick ? 6 : 30;
  const restart = process.env.BENCH_KNEX_RESTART !== '0';
  const startedAt = performance.now();
  const pg = await serverVersion();
  const overhead = await knexOverheadSection({ rounds, iterations, progress });
  const recovery = await knexRecoverySection({ seconds, restart, progress });
  const minutes = (performance.now() - startedAt) / 60_000;
  const versions = `knex ${installedVersion('knex', '3.3.0')}, pg ${installedVersion('pg', '8.23.1')}, better-sqlite3 ${installedVersion('better-sqlite3', '12.6.2')}`;
  return markedSection(
    'knex',
    `## Knex plugin

Produced by \`pnpm bench\` with the rest of this file, or alone by \`pnpm bench:knex\`
(\`node --import tsx bench/src/knex/run.ts\`, which replaces only this section). Real servers:
${pg} on 127.0.0.1 (a local cluster the recovery part stops and starts), SQLite in memory.
Peers: ${versions}. Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}.
${quick ? '**Quick mode (BENCH_QUICK=1): short runs, indicative only.** ' : ''}This section took ${minutes.toFixed(1)} min.
Generated ${new Date().toISOString().slice(0, 10)}.

${overhead}
${recovery}`,
  );
}
