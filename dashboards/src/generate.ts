/**
 * `pnpm --filter otel-resilience-dashboards generate [--config file.json] [--out dir] [--check]`
 *
 * Writes `<out>/<naming>/<dashboard>.json` for every dashboard: for both naming schemes, or only
 * for the config's `naming` when the config file sets one. `<out>` defaults to
 * `dashboards/generated/` (the committed files); `.json` files there that are no longer generated
 * are removed (never in another `--out`). `--check` writes nothing and exits 1 when the files on disk differ.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { DashboardConfigInput } from './config.js';
import { drift, existingFiles, expectedFiles, GENERATE_COMMAND, GENERATED_DIR } from './files.js';

function main(): number {
  const { values } = parseArgs({
    options: {
      config: { type: 'string' },
      out: { type: 'string' },
      check: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help === true) {
    console.log(
      'usage: generate [--config <config.json>] [--out <dir>] [--check]\n' +
        '  --config  a JSON file with any fields of DashboardConfig (see src/config.ts)\n' +
        '  --out     output directory (default: dashboards/generated)\n' +
        '  --check   write nothing; exit 1 if the files on disk differ',
    );
    return 0;
  }
  let input: DashboardConfigInput = {};
  if (values.config !== undefined) {
    const path = resolve(process.env.INIT_CWD ?? process.cwd(), values.config);
    try {
      input = JSON.parse(readFileSync(path, 'utf8')) as DashboardConfigInput;
    } catch (error) {
      throw new Error(`cannot read the config ${path}: ${(error as Error).message}`);
    }
  }
  const out =
    values.out === undefined
      ? GENERATED_DIR
      : resolve(process.env.INIT_CWD ?? process.cwd(), values.out);
  const expected = expectedFiles(input);
  const existing = existingFiles(out, expected);

  if (values.check === true) {
    const problems = drift(expected, existing);
    if (problems.length === 0) {
      console.log(`${expected.size} dashboards in ${out} are up to date.`);
      return 0;
    }
    console.error(
      `Dashboards in ${out} differ from the generator:\n  ${problems.join('\n  ')}\nRun: ${GENERATE_COMMAND}`,
    );
    return 1;
  }

  for (const [path, contents] of expected) {
    const file = join(out, path);
    mkdirSync(dirname(file), { recursive: true });
    if (existing.get(path) !== contents) writeFileSync(file, contents);
    console.log(`wrote ${relative(process.cwd(), file) || file}`);
  }
  // Only the committed folder is pruned: another --out may hold dashboards of its own.
  for (const path of values.out === undefined ? existing.keys() : []) {
    if (!expected.has(path)) {
      rmSync(join(out, path));
      console.log(`removed ${path} (no longer generated)`);
    }
  }
  return 0;
}

try {
  process.exitCode = main();
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
}
