import { metrics } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { circuitBreaker, retry } from '../index.js';
import { METRICS, type MetricKey } from './catalogue.js';
import { prometheusLabel, prometheusNames } from './prometheusNames.js';

describe('prometheusNames', () => {
  it('follows the Collector rules: unit suffix for seconds, _total on counters', () => {
    expect(prometheusNames('callDuration', 'collector')).toEqual({
      type: 'histogram',
      name: 'resilience_call_duration_seconds',
      bucket: 'resilience_call_duration_seconds_bucket',
      sum: 'resilience_call_duration_seconds_sum',
      count: 'resilience_call_duration_seconds_count',
    });
    expect(prometheusNames('retryDecisions', 'collector')).toEqual({
      type: 'counter',
      name: 'resilience_retry_decisions_total',
    });
    expect(prometheusNames('dbConnectionCount', 'collector')).toEqual({
      type: 'gauge',
      name: 'db_client_connection_count',
    });
    expect(prometheusLabel('db.client.connection.pool.name')).toBe(
      'db_client_connection_pool_name',
    );
  });

  describe('otel-js: what @opentelemetry/exporter-prometheus really writes', () => {
    let exporter: PrometheusExporter;
    let provider: MeterProvider;
    beforeAll(async () => {
      exporter = new PrometheusExporter({ preventServerStart: true });
      provider = new MeterProvider({ readers: [exporter] });
      metrics.setGlobalMeterProvider(provider);
      // One call through retry + breaker makes every policy instrument report at least once.
      const failing = retry({ name: 'names', maxAttempts: 1 });
      await failing.execute(() => Promise.reject(new Error('x'))).catch(() => undefined);
      await circuitBreaker({ name: 'names' }).execute(() => 1);
    });
    afterAll(async () => {
      metrics.disable();
      await provider.shutdown();
    });

    it('every catalogue instrument that reported has its computed family name and type', async () => {
      const text = await new Promise<string>((resolve, reject) => {
        exporter.getMetricsRequestHandler(
          {} as never,
          {
            statusCode: 0,
            setHeader: () => undefined,
            end: (body: string) => resolve(body),
          } as never,
        );
        setTimeout(() => reject(new Error('no metrics answer')), 5_000);
      });
      const families = new Map(
        [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1] as string, m[2] as string]),
      );
      let checked = 0;
      for (const key of Object.keys(METRICS) as MetricKey[]) {
        const names = prometheusNames(key);
        const family = names.type === 'counter' ? names.name.replace(/_total$/, '') : names.name;
        const type = families.get(family) ?? families.get(names.name);
        if (type === undefined) continue; // this instrument recorded nothing here
        checked++;
        expect(type, key).toBe(names.type);
        const sample = names.type === 'histogram' ? names.bucket : names.name;
        expect(text, key).toMatch(
          new RegExp(`^${sample}\\{[^}]*otel_scope_name="otel-resilience"`, 'm'),
        );
      }
      expect(checked).toBeGreaterThanOrEqual(4);
    });
  });
});
