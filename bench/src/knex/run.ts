/**
 * `pnpm bench:knex`: only the Knex plugin benchmarks; replaces the Knex section of BENCHMARKS.md
 * at the repository root (between its markers) and prints it. `BENCH_QUICK=1`: short runs, and
 * BENCHMARKS.md is left alone. `BENCH_KNEX_RESTART=0`: no PostgreSQL restart.
 */
import { runSectionAlone } from '../section.js';
import { knexSection } from './section.js';

await runSectionAlone('knex', knexSection);
