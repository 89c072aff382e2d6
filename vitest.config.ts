import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const source = (pkg: string, path: string) =>
  fileURLToPath(new URL(`./packages/${pkg}/src/${path}`, import.meta.url));

export default defineConfig({
  // Tests run every package from source: adapters and the engine then share one module instance
  // (one metric registry), and no build is needed between a change and a test that depends on it.
  resolve: {
    alias: [
      { find: /^otel-resilience$/, replacement: source('otel-resilience', 'index.ts') },
      {
        find: /^otel-resilience\/testing$/,
        replacement: source('otel-resilience', 'testing/otel.ts'),
      },
      { find: /^otel-resilience-axios$/, replacement: source('axios-interceptor', 'index.ts') },
    ],
  },
  test: {
    include: [
      'packages/*/src/**/*.test.ts',
      'examples/*/src/**/*.test.ts',
      'dashboards/src/**/*.test.ts',
      'alerts/src/**/*.test.ts',
      'e2e/src/**/*.test.ts',
    ],
    testTimeout: 20_000,
    pool: 'forks',
  },
});
