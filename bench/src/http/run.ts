/**
 * `pnpm bench:http`: only the HTTP adapter benchmarks (throughput, retry storms); replaces their
 * part of BENCHMARKS.md at the repository root (between its markers) and prints it.
 * `BENCH_QUICK=1`: short runs, and BENCHMARKS.md is left alone.
 */
import { runSectionAlone } from '../section.js';
import { httpSection } from './section.js';

await runSectionAlone('http', httpSection);
