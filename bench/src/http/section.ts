/**
 * The HTTP adapters' part of BENCHMARKS.md (throughput and retry storms), between markers so
 * that `pnpm bench:http` can regenerate it alone (bench/src/http/run.ts).
 */
import { markedSection, type SectionOptions } from '../section.js';
import { retryStormSection } from './retryStorm.js';
import { throughputSection } from './throughput.js';

/** Runs the HTTP benchmarks and returns the section, markers included. */
export async function httpSection({ quick, progress = () => {} }: SectionOptions): Promise<string> {
  progress('HTTP adapters: throughput (autocannon, servers in child processes)');
  const throughput = await throughputSection({
    rounds: quick ? 3 : 15,
    seconds: quick ? 1 : 2,
    connections: 50,
  });
  progress('HTTP adapters: retry storm scenarios');
  const storm = await retryStormSection({
    ratePerSecond: 50,
    durationMs: quick ? 3_000 : 10_000,
    rounds: quick ? 1 : 3,
  });
  return markedSection(
    'http',
    `Produced by \`pnpm bench\` with the rest of this file, or alone by \`pnpm bench:http\`
(\`node --import tsx bench/src/http/run.ts\`, which replaces only this part). Node ${process.version}.
${quick ? '**Quick mode (BENCH_QUICK=1): short runs, indicative only.** ' : ''}Generated ${new Date().toISOString().slice(0, 10)}.

${throughput}
${storm}`,
  );
}
