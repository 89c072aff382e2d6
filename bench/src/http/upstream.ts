import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** How the upstream answers: see {@link FlakyUpstream}. */
export type UpstreamMode =
  | { readonly kind: 'healthy' }
  | { readonly kind: 'outage' }
  | { readonly kind: 'brownout'; readonly failureRatio: number }
  | { readonly kind: 'rate_limited'; readonly untilMs: number; readonly retryAfterSeconds: number }
  | { readonly kind: 'slow'; readonly delayMs: number };

/**
 * A local upstream whose behaviour the benchmark switches between scenarios, counting every
 * request that reaches it: `healthy` (200), `outage` (503 to all), `brownout` (503 at random),
 * `rate_limited` (429 with Retry-After until a time, then 200), `slow` (200 after a delay).
 */
export class FlakyUpstream {
  mode: UpstreamMode = { kind: 'healthy' };
  requests = 0;
  private server: Server | undefined;
  private readonly random: () => number;

  constructor(seed = 42) {
    // A seeded generator: every client library meets the same sequence of random failures.
    let state = seed;
    this.random = () => {
      state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
      return state / 2_147_483_648;
    };
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.requests++;
      req.resume();
      const mode = this.mode;
      switch (mode.kind) {
        case 'healthy':
          return void res.end('{"ok":true}');
        case 'outage':
          res.statusCode = 503;
          return void res.end('{"ok":false}');
        case 'brownout':
          res.statusCode = this.random() < mode.failureRatio ? 503 : 200;
          return void res.end();
        case 'rate_limited':
          if (performance.now() < mode.untilMs) {
            res.writeHead(429, { 'retry-after': String(mode.retryAfterSeconds) });
            return void res.end();
          }
          return void res.end('{"ok":true}');
        case 'slow': {
          const timer = setTimeout(() => res.end('{"ok":true}'), mode.delayMs);
          res.once('close', () => clearTimeout(timer));
        }
      }
    });
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
