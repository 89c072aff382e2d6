/**
 * `pnpm bench:http`: only the HTTP adapter benchmarks (throughput, retry storms); replaces their
 * part of BENCHMARKS.md at the repository root (between its markers) and prints it.
 * `BENCH_QUICK=1`: short runs, and BENCHMARKS.md is left alone.
 */
import { writeSection } from '../section.js';
import { httpSection } from './section.js';

const QUICK = process.env.BENCH_QUICK === '1';
const t0 = performance.now();
const progress = (what: string) =>
  console.error(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${what}`);

const section = await httpSection({ quick: QUICK, progress });
if (!QUICK) {
  writeSection('http', section);
  progress('BENCHMARKS.md: HTTP section replaced');
}
console.log(section);
process.exit(0);
