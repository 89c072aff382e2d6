/**
 * Sections of BENCHMARKS.md that a benchmark can regenerate alone (`pnpm bench:http`,
 * `pnpm bench:knex`): each sits between `<!-- name:start -->` and `<!-- name:end -->`.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/** `body` between the markers of section `name`. */
export function markedSection(name: string, body: string): string {
  return `<!-- ${name}:start -->\n${body.trimEnd()}\n<!-- ${name}:end -->\n`;
}

/** `report` with section `name` replaced by `section` (appended when it has none). */
export function replaceSection(report: string, name: string, section: string): string {
  const startMarker = `<!-- ${name}:start -->`;
  const endMarker = `<!-- ${name}:end -->`;
  const start = report.indexOf(startMarker);
  const end = report.indexOf(endMarker);
  if (start < 0 || end < start) return `${report.trimEnd()}\n\n${section}`;
  let after = report.slice(end + endMarker.length);
  if (after.startsWith('\n')) after = after.slice(1);
  return `${report.slice(0, start)}${section}${after}`;
}

/** Replaces section `name` of BENCHMARKS.md at the repository root with `section`. */
export function writeSection(name: string, section: string): void {
  const target = new URL('../../BENCHMARKS.md', import.meta.url);
  const report = existsSync(target) ? readFileSync(target, 'utf8') : '# Benchmarks\n';
  writeFileSync(target, replaceSection(report, name, section));
}

/** What a section's benchmarks are given: short runs or not, and where to report progress. */
export interface SectionOptions {
  readonly quick: boolean;
  readonly progress?: (what: string) => void;
}

/**
 * Runs one section alone (`pnpm bench:http`, `pnpm bench:knex`): prints it and, unless
 * `BENCH_QUICK=1` (short runs), replaces it in BENCHMARKS.md. Exits the process at the end, so
 * lingering sockets (database drivers, keep-alive agents) cannot keep it alive.
 */
export async function runSectionAlone(
  name: string,
  build: (options: SectionOptions) => Promise<string>,
): Promise<never> {
  const quick = process.env.BENCH_QUICK === '1';
  const startedAt = performance.now();
  const progress = (what: string) =>
    console.error(`[${((performance.now() - startedAt) / 1000).toFixed(0).padStart(4)} s] ${what}`);
  const section = await build({ quick, progress });
  if (!quick) {
    writeSection(name, section);
    progress(`BENCHMARKS.md: the ${name} section replaced`);
  }
  console.log(section);
  process.exit(0);
}
