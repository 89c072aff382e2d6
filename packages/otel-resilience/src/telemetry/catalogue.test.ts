import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { METRICS } from './catalogue.js';
import { renderMetricsTable } from './telemetryTable.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('metric catalogue', () => {
  it('names every instrument under resilience. (or by the semantic conventions) with a UCUM unit and bounded attributes', () => {
    // The one semantic-convention instrument: emitted only when no HTTP instrumentation does.
    const semconv = new Set(['http.server.request.duration']);
    for (const metric of Object.values(METRICS)) {
      if (semconv.has(metric.name)) {
        expect(metric.attributes).toContain('http.route');
        continue;
      }
      expect(metric.name).toMatch(/^resilience\.[a-z_.]+$/);
      expect(
        metric.kind === 'histogram' ? metric.unit === 's' : /^\{[a-z]+\}$/.test(metric.unit),
      ).toBe(true);
      expect(metric.attributes).toContain('resilience.name');
      expect(metric.description.length).toBeGreaterThan(10);
    }
    expect(new Set(Object.values(METRICS).map((m) => m.name)).size).toBe(
      Object.keys(METRICS).length,
    );
  });

  it('is documented in the README exactly as generated', () => {
    expect(readme).toContain(renderMetricsTable());
  });

  it('reports the package version as the instrumentation scope version', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    const { VERSION } = await import('../version.js');
    expect(VERSION).toBe(pkg.version);
  });
});
