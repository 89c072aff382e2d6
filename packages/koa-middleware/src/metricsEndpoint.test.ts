import { metrics } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { koaResilience } from './koaResilience.js';
import { metricsEndpoint } from './metricsEndpoint.js';
import { KOA_MAJORS, quietApp, sleep, uniqueName, useServers } from './testSupport.js';

describe.each(KOA_MAJORS)('metrics endpoint on Koa $major', ({ load }) => {
  const Koa = load();
  const listen = useServers();
  let exporter: PrometheusExporter;
  let provider: MeterProvider;
  beforeEach(() => {
    exporter = new PrometheusExporter({ preventServerStart: true });
    provider = new MeterProvider({ readers: [exporter] });
    metrics.setGlobalMeterProvider(provider);
  });
  afterEach(async () => {
    metrics.disable();
    await provider.shutdown();
  });

  it("serves the exporter's exposition on the app's port, with the guard's series", async () => {
    const resilience = koaResilience({ name: uniqueName('prom'), timeoutMs: 20 });
    const { app } = quietApp(Koa);
    app.use(resilience.metricsEndpoint(exporter)).use(resilience.middleware());
    app.use(() => sleep(50));
    const url = await listen(app);
    expect((await fetch(`${url}/slow`)).status).toBe(503);

    const response = await fetch(`${url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain');
    const exposition = await response.text();
    expect(exposition).toContain('# TYPE resilience_http_server_rejections_total counter');
    expect(exposition).toMatch(
      new RegExp(
        `resilience_http_server_rejections_total\\{[^}]*resilience_name="${resilience.guard.name}",http_route="_OTHER",resilience_rejection_reason="timeout"[^}]*\\} 1`,
      ),
    );
  });

  it('serves another path, passes the rest on, and honours authorize', async () => {
    const { app } = quietApp(Koa);
    app.use(
      metricsEndpoint(exporter, {
        path: '/internal/metrics',
        authorize: (ctx) => ctx.get('x-scraper') === 'prometheus',
        deniedStatus: 401,
      }),
    );
    app.use((ctx) => {
      ctx.body = `next ${ctx.path}`;
    });
    const url = await listen(app);
    expect(await (await fetch(`${url}/metrics`)).text()).toBe('next /metrics');
    const refused = await fetch(`${url}/internal/metrics`);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toEqual({ error: 'unauthorized' });
    const scraped = await fetch(`${url}/internal/metrics`, {
      headers: { 'x-scraper': 'prometheus' },
    });
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toContain('# HELP');
  });

  it('rejects an invalid exporter or path, naming it', () => {
    expect(() => metricsEndpoint({} as PrometheusExporter)).toThrow(
      new TypeError('exporter must be a PrometheusExporter (with getMetricsRequestHandler)'),
    );
    expect(() => metricsEndpoint(exporter, { path: 'metrics' })).toThrow(
      new TypeError('path must be a path starting with "/", got metrics'),
    );
    expect(() => metricsEndpoint(exporter, { path: null as never })).toThrow(/path must be/);
  });
});
