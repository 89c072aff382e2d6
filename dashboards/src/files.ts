import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DashboardConfigInput } from './config.js';
import { buildAllDashboards, toJson } from './index.js';

/** `dashboards/generated/`: the committed dashboards. */
export const GENERATED_DIR = fileURLToPath(new URL('../generated/', import.meta.url));

/** The command that regenerates the committed dashboards. */
export const GENERATE_COMMAND = 'pnpm --filter otel-resilience-dashboards generate';

/** Path under the output directory (`otel-js/overview.json`) → file contents. */
export function expectedFiles(input: DashboardConfigInput = {}): Map<string, string> {
  const files = new Map<string, string>();
  for (const generated of buildAllDashboards(input)) {
    files.set(generated.path, toJson(generated.dashboard));
  }
  return files;
}

/** The `.json` files under `dir/<naming>/` for the namings of `expected`, by relative path. */
export function existingFiles(dir: string, expected: Map<string, string>): Map<string, string> {
  const files = new Map<string, string>();
  const namingDirs = new Set([...expected.keys()].map((path) => path.split('/')[0] ?? ''));
  for (const naming of namingDirs) {
    const namingDir = join(dir, naming);
    if (!existsSync(namingDir)) continue;
    for (const name of readdirSync(namingDir)) {
      if (name.endsWith('.json')) {
        files.set(`${naming}/${name}`, readFileSync(join(namingDir, name), 'utf8'));
      }
    }
  }
  return files;
}

/** Differences between what the generator makes and what is on disk, one line each. */
export function drift(expected: Map<string, string>, existing: Map<string, string>): string[] {
  const problems: string[] = [];
  for (const [path, contents] of expected) {
    const found = existing.get(path);
    if (found === undefined) problems.push(`missing: ${path}`);
    else if (found !== contents) problems.push(`out of date: ${path}`);
  }
  for (const path of existing.keys()) {
    if (!expected.has(path)) problems.push(`not generated any more: ${path}`);
  }
  return problems;
}
