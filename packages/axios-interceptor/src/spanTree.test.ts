import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { isSpanContextValid, propagation, type TextMapPropagator, trace } from '@opentelemetry/api';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import axios from 'axios';
import express from 'express';
import { runWithDeadline } from 'otel-resilience';
import { points, useTestTelemetry } from 'otel-resilience/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { attachResilience } from './index.js';
import { histogramCounts, spansNamed, spanTree } from './testSupport.js';

// The instrumentation patches `http` when it is next required: do that before any request.
const instrumentation = new HttpInstrumentation();
createRequire(import.meta.url)('http');

/** W3C trace context, just enough for the test (the SDK's propagator lives in @opentelemetry/core). */
const traceContext: TextMapPropagator = {
  inject(context, carrier, setter) {
    const span = trace.getSpanContext(context);
    if (span === undefined || !isSpanContextValid(span)) return;
    const flags = span.traceFlags.toString(16).padStart(2, '0');
    setter.set(carrier, 'traceparent', `00-${span.traceId}-${span.spanId}-${flags}`);
  },
  extract(context, carrier, getter) {
    const header = getter.get(carrier, 'traceparent');
    const value = Array.isArray(header) ? header[0] : header;
    const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(value ?? '');
    if (match === null) return context;
    return trace.setSpanContext(context, {
      traceId: match[1]!,
      spanId: match[2]!,
      traceFlags: Number.parseInt(match[3]!, 16),
      isRemote: true,
    });
  },
  fields: () => ['traceparent'],
};

const telemetry = useTestTelemetry();
beforeEach(() => {
  instrumentation.setTracerProvider(trace.getTracerProvider());
  propagation.setGlobalPropagator(traceContext);
});

const servers: Server[] = [];
const listen = (app: express.Express) =>
  new Promise<string>((resolve) => {
    const server = app.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    );
    servers.push(server);
  });

let upstreamUrl = '';
let inboundUrl = '';
let upstreamHits = 0;
const seen: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  const upstream = express();
  upstream.get('/items/:id', (req, res) => {
    seen.push({ ...req.headers });
    // Every other request fails: the first attempt of each call gets a 503.
    if (upstreamHits++ % 2 === 0) res.status(503).end();
    else res.json({ id: req.params.id });
  });
  upstreamUrl = await listen(upstream);

  const client = axios.create({ baseURL: upstreamUrl });
  attachResilience(client, { name: 'inventory', retry: { random: () => 0 } });
  const inbound = express();
  inbound.get('/orders/:id', async (_req, res) => {
    // What the Express middleware does for each inbound request.
    const item = await runWithDeadline({ timeoutMs: 2_000 }, () =>
      client.get('/items/42', {
        params: { api_key: 'SECRET-KEY' },
        headers: { Authorization: 'Bearer SECRET-TOKEN', Cookie: 'sid=SECRET-COOKIE' },
        resilience: { routeTemplate: '/items/{id}' },
      }),
    );
    res.json(item.data);
  });
  inboundUrl = await listen(inbound);
});

afterAll(async () => {
  instrumentation.disable();
  propagation.disable();
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

describe('with @opentelemetry/instrumentation-http registered', () => {
  it('nests one CLIENT span per attempt under the attempt spans, and no other', async () => {
    const response = await axios.get(`${inboundUrl}/orders/7`);
    expect(response.data).toEqual({ id: '42' });
    // The outer CLIENT/SERVER pair is the test's own request to the inbound server.
    expect(spanTree(telemetry.spans())).toEqual([
      'CLIENT GET',
      '  SERVER GET',
      '    INTERNAL resilience inventory',
      '      INTERNAL resilience inventory attempt',
      '        CLIENT GET',
      '          SERVER GET',
      '      INTERNAL resilience inventory attempt',
      '        CLIENT GET',
      '          SERVER GET',
    ]);
    const [first, second] = spansNamed(telemetry.spans(), 'resilience inventory attempt');
    expect(first?.attributes).toMatchObject({
      'server.address': '127.0.0.1',
      'url.template': '/items/{id}',
      'http.response.status_code': 503,
      'error.type': '503',
    });
    expect(first?.attributes['http.request.resend_count']).toBeUndefined();
    expect(second?.attributes).toMatchObject({
      'http.request.resend_count': 1,
      'http.response.status_code': 200,
    });
    // Trace context reached the upstream once per attempt, each time from that attempt's span.
    expect(new Set(seen.slice(-2).map((h) => h.traceparent)).size).toBe(2);
  });

  it('records no credential, path or query in any span or event of this package', async () => {
    await axios.get(`${inboundUrl}/orders/8`);
    const ours = telemetry
      .spans()
      .filter((s) => s.instrumentationScope.name === 'otel-resilience')
      .map((s) => ({ name: s.name, attributes: s.attributes, events: s.events }));
    expect(ours.length).toBeGreaterThan(0);
    expect(JSON.stringify(ours)).not.toMatch(/SECRET|\/items\/42|api_key/);
  });

  it('reports metric series by server.address', async () => {
    await axios.get(`${inboundUrl}/orders/9`);
    const metrics = await telemetry.collect();
    expect(
      histogramCounts(metrics, 'resilience.call.duration').filter(
        (p) => p.attributes['resilience.name'] === 'inventory',
      ),
    ).toEqual([
      {
        attributes: {
          'resilience.name': 'inventory',
          'server.address': '127.0.0.1',
          'resilience.outcome': 'success_after_retry',
        },
        count: 1,
      },
    ]);
    expect(
      points(metrics, 'resilience.circuit_breaker.state').filter(
        (p) => p.attributes['resilience.name'] === 'inventory' && p.value === 1,
      ),
    ).toEqual([
      {
        attributes: {
          'server.address': '127.0.0.1',
          'resilience.name': 'inventory',
          'resilience.circuit_breaker.state': 'closed',
        },
        value: 1,
      },
    ]);
  });
});
