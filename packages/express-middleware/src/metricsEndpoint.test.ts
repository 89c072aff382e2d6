import { metrics } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it } from 'vitest';
import { expressResilience } from './ExpressResilience.js';
import { closeServersAfterEach, EXPRESS_MAJORS, listen, uniqueName } from './testSupport.js';

describe.each(EXPRESS_MAJORS)('metrics endpoint on %s', (_major, loadExpress) => {
  const express = loadExpress();
  closeServersAfterEach();
  let provider: MeterProvider | undefined;
  afterEach(async () => {
    metrics.disable();
    await provider?.shutdown();
  });

  it("serves the Prometheus exporter's exposition on the app, the middleware's counters included", async () => {
    const exporter = new PrometheusExporter({ preventServerStart: true });
    provider = new MeterProvider({ readers: [exporter] });
    metrics.setGlobalMeterProvider(provider);
    const resilience = expressResilience({ name: uniqueName('prom'), timeoutMs: 20 });
    const app = express();
    app.get('/metrics', resilience.metricsEndpoint(exporter));
    app.use(resilience.middleware());
    app.get('/hang', () => {});
    const url = await listen(app);
    expect((await fetch(`${url}/hang`)).status).toBe(503);
    const response = await fetch(`${url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();
    expect(text).toContain(
      `resilience_http_server_rejections_total{resilience_name="${resilience.guard.name}",http_route="/hang",resilience_rejection_reason="timeout",otel_scope_name="otel-resilience",otel_scope_version="0.1.0"} 1\n`,
    );
  });

  // The guard's counters are observable instruments bound to the SDK when a request begins: a
  // guard without a budget or shedding, under an SDK registered after it was made, exports them.
  it('exports the rejection counters when the SDK is registered after the middleware was made', async () => {
    const resilience = expressResilience({
      name: uniqueName('late-sdk'),
      timeoutMs: 20,
      retryBudget: null,
    });
    const exporter = new PrometheusExporter({ preventServerStart: true });
    provider = new MeterProvider({ readers: [exporter] });
    metrics.setGlobalMeterProvider(provider);
    const app = express();
    app.get('/metrics', resilience.metricsEndpoint(exporter));
    app.use(resilience.middleware());
    app.get('/hang', () => {});
    const url = await listen(app);
    expect((await fetch(`${url}/hang`)).status).toBe(503);
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toContain(`resilience_name="${resilience.guard.name}",http_route="/hang"`);
  });

  it('asks authorize before serving', async () => {
    const exporter = new PrometheusExporter({ preventServerStart: true });
    provider = new MeterProvider({ readers: [exporter] });
    const app = express();
    const resilience = expressResilience({ name: uniqueName('prom') });
    app.get(
      '/metrics',
      resilience.metricsEndpoint(exporter, { authorize: (req) => req.ip === '10.0.0.1' }),
    );
    const url = await listen(app);
    const response = await fetch(`${url}/metrics`);
    expect([response.status, await response.text()]).toEqual([403, '{"error":"forbidden"}']);
  });
});
