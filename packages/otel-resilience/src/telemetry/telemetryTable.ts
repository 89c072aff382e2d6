import { METRICS } from './catalogue.js';

/**
 * The README's "Emitted telemetry" metrics table, rendered from the catalogue. A test compares
 * the README with this output, so the documentation cannot drift from the code.
 */
export function renderMetricsTable(): string {
  const rows = Object.values(METRICS).map(
    (m) =>
      `| \`${m.name}\` | ${m.kind} | \`${m.unit}\` | ${m.attributes.map((a) => `\`${a}\``).join(', ')} | ${m.description} |`,
  );
  return [
    '| instrument | kind | unit | attributes | description |',
    '|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}
