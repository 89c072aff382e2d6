/**
 * Writes the generated rule files, promtool unit tests and Alertmanager example.
 *
 *   pnpm --filter otel-resilience-alerts generate                       the committed files
 *   pnpm --filter otel-resilience-alerts generate -- --check            exit 1 if they drifted
 *   pnpm --filter otel-resilience-alerts generate -- --config my.json --out /path/to/dir
 *
 * `--config` reads a JSON `AlertsConfigInput` (only the fields you change, e.g.
 * `{ "failureRate": { "warning": 0.1 }, "selector": "namespace=\"prod\"" }`); without `--out`
 * the files go to a new directory `./alerts-out` so the committed ones are left alone.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { AlertsConfigError, type AlertsConfigInput } from './config.js';
import { GENERATE_COMMAND, PACKAGE_DIR, renderCommittedFiles, renderFiles } from './render.js';

function main(): number {
  // `pnpm run generate -- --check` passes the `--` on.
  const args = process.argv.slice(2);
  if (args[0] === '--') args.shift();
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string' },
      out: { type: 'string' },
      check: { type: 'boolean', default: false },
    },
  });
  let files: Map<string, string>;
  let outDir: string;
  try {
    if (values.config !== undefined) {
      const input = JSON.parse(readFileSync(values.config, 'utf8')) as AlertsConfigInput;
      files = renderFiles(input);
      outDir = resolve(values.out ?? 'alerts-out');
    } else {
      files = renderCommittedFiles();
      outDir = values.out === undefined ? PACKAGE_DIR : resolve(values.out);
    }
  } catch (error) {
    if (error instanceof AlertsConfigError) {
      console.error(error.message);
      return 2;
    }
    throw error;
  }

  if (values.check) {
    const drifted = [...files].filter(([path, content]) => {
      try {
        return readFileSync(join(outDir, path), 'utf8') !== content;
      } catch {
        return true;
      }
    });
    for (const [path] of drifted) console.error(`out of date: ${join(outDir, path)}`);
    if (drifted.length > 0) {
      console.error(`Regenerate with: ${GENERATE_COMMAND}`);
      return 1;
    }
    console.log(`${files.size} generated files up to date`);
    return 0;
  }

  for (const [path, content] of files) {
    const target = join(outDir, path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, content);
    console.log(`wrote ${target}`);
  }
  return 0;
}

process.exitCode = main();
