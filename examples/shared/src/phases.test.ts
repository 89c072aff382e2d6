import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FlakyUpstream } from './FlakyUpstream.js';
import {
  DEFAULT_DURATIONS,
  defaultPhases,
  outcomeOf,
  phaseDurationsFromEnv,
  type RequestResult,
  runPhases,
} from './phases.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

describe('phase durations', () => {
  it('defaults to about 34 s in four phases', () => {
    const phases = defaultPhases();
    expect(phases.map((p) => p.name)).toEqual(['healthy', 'brownout', 'outage', 'recovery']);
    const total = phases.reduce((sum, p) => sum + p.durationMs, 0);
    expect(total).toBe(Object.values(DEFAULT_DURATIONS).reduce((a, b) => a + b, 0));
    expect(total).toBeGreaterThanOrEqual(30_000);
    expect(total).toBeLessThanOrEqual(40_000);
  });

  it('reads DEMO_PHASE_SECONDS as one number or per phase', () => {
    expect(phaseDurationsFromEnv({})).toEqual({});
    expect(phaseDurationsFromEnv({ DEMO_PHASE_SECONDS: '2' })).toEqual({
      healthy: 2_000,
      brownout: 2_000,
      outage: 2_000,
      recovery: 2_000,
    });
    expect(phaseDurationsFromEnv({ DEMO_PHASE_SECONDS: 'outage=1.5, recovery=3' })).toEqual({
      outage: 1_500,
      recovery: 3_000,
    });
    expect(() => phaseDurationsFromEnv({ DEMO_PHASE_SECONDS: 'soon' })).toThrow(TypeError);
    expect(() => phaseDurationsFromEnv({ DEMO_PHASE_SECONDS: 'lunch=3' })).toThrow(/unknown phase/);
    expect(defaultPhases({ outage: 1_000 })[2]?.durationMs).toBe(1_000);
  });
});

describe('outcomeOf', () => {
  it('names answers by status and error', () => {
    expect(outcomeOf(200, undefined)).toBe('ok');
    expect(outcomeOf(200, undefined, true)).toBe('degraded');
    expect(outcomeOf(503, 'shed')).toBe('shed');
    expect(outcomeOf(503, 'timeout')).toBe('timedOut');
    expect(outcomeOf(503, 'circuit_open')).toBe('fastFail');
    expect(outcomeOf(502, 'upstream_failed')).toBe('failed');
    expect(outcomeOf(0, undefined)).toBe('noAnswer');
  });
});

/** A stand-in service: reads answer per the upstream (degraded when it fails), writes 201. */
async function fakeService(upstream: FlakyUpstream): Promise<string> {
  const server: Server = createServer((req, res) => {
    const json = (status: number, body: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.method === 'POST') {
      req.resume();
      req.on('end', () => json(201, { id: 1 }));
      return;
    }
    fetch(`${upstream.url}/prices/A1`).then(
      (r) => (r.ok ? json(200, { id: 1 }) : json(200, { id: 1, degraded: String(r.status) })),
      () => json(502, { error: 'upstream_failed' }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('runPhases', () => {
  it('offers a steady mix through the phases, switching the upstream, and reports each phase', async () => {
    const upstream = await FlakyUpstream.start({ mode: { latencyMs: 1, latencyJitterMs: 0 } });
    closers.push(() => upstream.close());
    const serviceUrl = await fakeService(upstream);
    const started: string[] = [];
    const results: RequestResult[] = [];
    const phases = defaultPhases({ healthy: 400, brownout: 300, outage: 400, recovery: 300 });
    const locks: number[] = [];
    const reports = await runPhases({
      serviceUrl,
      upstream,
      phases,
      ratePerSecond: 50,
      database: {
        holdWriteLock: async (ms) => {
          locks.push(ms);
        },
      },
      onPhaseStart: (phase) => {
        started.push(`${phase.name}:${upstream.mode.failureRate}`);
      },
      onResult: (r) => results.push(r),
    });
    expect(started).toEqual(['healthy:0', 'brownout:0.25', 'outage:1', 'recovery:0']);
    expect(reports.map((r) => r.name)).toEqual(['healthy', 'brownout', 'outage', 'recovery']);
    const [healthy, , outage] = reports;
    // 50/s for 0.4 s: 20 sends, reads and writes mixed 70/30.
    expect(healthy?.sent).toBe(20);
    expect(healthy?.outcomes.ok).toBe(healthy?.sent);
    expect(healthy?.byKind.write.ok).toBeGreaterThan(0);
    // The brownout's 0.3 s at 50/s, plus one spike of 20 reads at once.
    expect(reports[1]?.sent).toBe(15 + 20);
    // Every read sent in the outage met the failing upstream; the writes did not need it.
    expect(outage?.byKind.read.ok).toBe(0);
    expect(outage?.byKind.read.degraded).toBeGreaterThan(0);
    expect(outage?.byKind.write.ok).toBeGreaterThan(0);
    expect(outage?.upstream.failed).toBeGreaterThan(0);
    expect(results).toHaveLength(reports.reduce((sum, r) => sum + r.sent, 0));
    expect(locks.length).toBeGreaterThan(0); // the brownout's DB lock bursts
    expect(upstream.mode.failureRate).toBe(0); // back to healthy
  });
});
