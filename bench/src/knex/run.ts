/**
 * `pnpm bench:knex`: only the Knex plugin benchmarks; replaces the Knex section of BENCHMARKS.md
 * at the repository root (between its markers) and prints it. `BENCH_QUICK=1`: short runs, and
 * BENCHMARKS.md is left alone. `BENCH_KNEX_RESTART=0`: no PostgreSQL restart.
 */
import { writeSection } from '../section.js';
import { knexSection } from './section.js';

const QUICK = process.env.BENCH_QUICK === '1';
const t0 = performance.now();
const progress = (what: string) =>
  console.error(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${what}`);

const section = await knexSection({ quick: QUICK, progress });
if (!QUICK) {
  writeSection('knex', section);
  progress('BENCHMARKS.md: Knex section replaced');
}
console.log(section);
// Lingering driver sockets must not keep the process alive.
process.exit(0);
