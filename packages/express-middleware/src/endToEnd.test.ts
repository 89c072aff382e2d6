/*
 * End to end: an Express app whose handler calls a failing upstream through the Axios
 * interceptor. Nothing is passed by hand: the middleware puts the request's deadline, signal and
 * retry budget in the engine's deadline scope, and the interceptor reads them.
 */
import axios from 'axios';
import { constantBackoff } from 'otel-resilience';
import { points, useTestTelemetry } from 'otel-resilience/testing';
import { attachResilience } from 'otel-resilience-axios';
import { describe, expect, it } from 'vitest';
import { expressResilience } from './ExpressResilience.js';
import { closeServersAfterEach, EXPRESS_MAJORS, listen, uniqueName } from './testSupport.js';

describe.each(EXPRESS_MAJORS)('%s, handler → Axios interceptor → failing upstream', (_, load) => {
  closeServersAfterEach();
  const otel = useTestTelemetry();

  it('stops retrying when the inbound deadline is near, drawing on the request budget', async () => {
    const express = load();
    const upstreamArrivals: number[] = [];
    const upstream = await listen((_req, res) => {
      upstreamArrivals.push(performance.now());
      res.statusCode = 503;
      res.end();
    });

    const client = axios.create();
    const name = uniqueName('e2e-client');
    // Up to 10 attempts 150 ms apart, were there no deadline: 1.35 s of retrying.
    const handle = attachResilience(client, {
      name,
      retry: { maxAttempts: 10, backoff: constantBackoff(150) },
      circuitBreaker: false,
      attemptTimeoutMs: 1_000,
    });
    const resilience = expressResilience({ name: uniqueName('e2e-server'), timeoutMs: 600 });
    const initialBalance = resilience.guard.retryBudget?.balance ?? 0;
    const clientBalance = handle.budget?.balance;
    const app = express();
    app.use(resilience.middleware());
    app.get('/quote', async (_req, res) => {
      try {
        await client.get(`${upstream}/price?api_key=secret`);
        res.json({ ok: true });
      } catch (error) {
        res.status(502).json({ error: (error as { name?: string }).name });
      }
    });
    const url = await listen(app);

    const started = performance.now();
    const response = await fetch(`${url}/quote`);
    const elapsedMs = performance.now() - started;

    // The handler answered (not the guard's 503 at 600 ms): the interceptor gave up in time.
    expect(response.status).toBe(502);
    expect(elapsedMs).toBeLessThan(600);
    // Attempts at about 0, 150, 300 and 450 ms (fewer on a slow machine); the next one would start
    // at 600 ms or later, when the caller stops waiting, so it is never made.
    const attempts = upstreamArrivals.length;
    expect(attempts).toBeGreaterThanOrEqual(3);
    expect(attempts).toBeLessThanOrEqual(4);
    expect(upstreamArrivals.every((at) => at - started < 600)).toBe(true);

    const data = await otel.collect();
    const decisions = points(data, 'resilience.retry.decisions')
      .filter((p) => p.attributes['resilience.name'] === name)
      .map((p) => [
        p.attributes['resilience.retry.decision'],
        p.attributes['resilience.retry.reason'],
        p.value,
      ]);
    expect(decisions).toEqual([
      ['retry', 'retryable', attempts - 1],
      ['skipped', 'deadline', 1],
    ]);
    // The three retries were withdrawn from the guard's budget, not from the client's own.
    expect(resilience.guard.retryBudget?.balance).toBeLessThan(initialBalance);
    expect(handle.budget?.balance).toBe(clientBalance);
    const spans = otel.spans();
    expect(JSON.stringify(spans.map((s) => [s.name, s.attributes, s.events]))).not.toContain(
      'secret',
    );
    handle.detach();
    resilience.dispose();
  });
});
