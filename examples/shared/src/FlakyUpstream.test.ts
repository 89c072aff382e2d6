import { afterEach, describe, expect, it } from 'vitest';
import { FlakyUpstream, HEALTHY_MODE, remoteUpstream } from './FlakyUpstream.js';

const started: FlakyUpstream[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((u) => u.close()));
});
async function start(...args: Parameters<typeof FlakyUpstream.start>) {
  const upstream = await FlakyUpstream.start(...args);
  started.push(upstream);
  return upstream;
}

describe('FlakyUpstream', () => {
  it('answers prices on loopback while healthy and counts the requests', async () => {
    const upstream = await start();
    expect(upstream.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${upstream.url}/prices/A1`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ sku: 'A1', price: expect.any(Number) });
    expect((await fetch(`${upstream.url}/nothing`)).status).toBe(404);
    expect(upstream.snapshot()).toMatchObject({ requests: 1, ok: 1, failed: 0, inFlight: 0 });
  });

  it('fails every request in an outage, with the configured status (429s with Retry-After)', async () => {
    const upstream = await start({ mode: { latencyMs: 0, latencyJitterMs: 0 } });
    await upstream.setMode({ failureRate: 1, status: 503, retryAfterSeconds: 2 });
    const res = await fetch(`${upstream.url}/prices/A1`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBeNull();
    await upstream.setMode({ status: 429, retryAfterSeconds: 0 });
    const limited = await fetch(`${upstream.url}/prices/A1`);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('0');
    await upstream.setMode({ status: 'reset' });
    await expect(fetch(`${upstream.url}/prices/A1`)).rejects.toThrow();
    expect(upstream.snapshot()).toMatchObject({ requests: 3, failed: 1, rateLimited: 1, reset: 1 });
  });

  it('mixes failures and 429s at the configured rates', async () => {
    const upstream = await start({ mode: { latencyMs: 0, latencyJitterMs: 0 } });
    await upstream.setMode({ failureRate: 0.3, rateLimitRate: 0.2 });
    const statuses = await Promise.all(
      Array.from({ length: 200 }, () => fetch(`${upstream.url}/prices/B2`).then((r) => r.status)),
    );
    const share = (s: number) => statuses.filter((x) => x === s).length / statuses.length;
    expect(share(503)).toBeGreaterThan(0.2);
    expect(share(503)).toBeLessThan(0.4);
    expect(share(429)).toBeGreaterThan(0.1);
    expect(share(429)).toBeLessThan(0.3);
  });

  it('adds latency', async () => {
    const upstream = await start({ mode: { latencyMs: 120, latencyJitterMs: 0 } });
    const started = performance.now();
    await fetch(`${upstream.url}/prices/A1`);
    expect(performance.now() - started).toBeGreaterThanOrEqual(110);
  });

  it('is switched from outside through POST /__control, and refuses bad modes', async () => {
    const upstream = await start();
    const control = remoteUpstream(upstream.url);
    const mode = await control.setMode({ failureRate: 1, latencyMs: 0 });
    expect(mode).toMatchObject({ failureRate: 1, latencyMs: 0, status: 503 });
    expect(upstream.mode.failureRate).toBe(1);
    expect((await fetch(`${upstream.url}/prices/A1`)).status).toBe(503);
    expect(await control.stats()).toMatchObject({ requests: 1, failed: 1 });

    const bad = await fetch(`${upstream.url}/__control`, {
      method: 'POST',
      body: JSON.stringify({ failureRate: 2 }),
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: 'bad_request' });
    expect(upstream.mode.failureRate).toBe(1); // unchanged
    await expect(control.setMode({ status: 200 })).rejects.toThrow(/400/);

    expect(await control.setMode({ reset: true })).toEqual(HEALTHY_MODE);
  });

  it('counts requests whose client went away before the answer', async () => {
    const upstream = await start({ mode: { latencyMs: 1_000, latencyJitterMs: 0 } });
    await expect(
      fetch(`${upstream.url}/prices/A1`, { signal: AbortSignal.timeout(50) }),
    ).rejects.toThrow();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(upstream.snapshot()).toMatchObject({ requests: 1, abandoned: 1, inFlight: 0 });
  });
});
