/**
 * A small HTTP service standing in for a remote dependency (a price service) whose behaviour can be
 * changed while it runs: failure rate, the status of its failures (or a dropped connection),
 * latency, a share of 429s with Retry-After. Changed in process (`upstream.setMode(...)`) or from
 * outside (`POST /__control` with a JSON body), so a test or another process can drive its faults.
 *
 *   GET  /prices/:sku   {"sku":"A1","price":12.5} — or the current fault
 *   GET  /__control     {"mode":{...},"stats":{...}}
 *   POST /__control     {"failureRate":1,"latencyMs":50} — merges into the mode, answers as GET;
 *                       {"reset":true} returns to the healthy mode first
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** How the upstream behaves right now. Every field is optional in updates. */
export interface UpstreamMode {
  /** Share of requests that fail, 0..1. */
  readonly failureRate: number;
  /** What a failure is: an HTTP status (500–599, or 429) or `'reset'` (the socket is destroyed). */
  readonly status: number | 'reset';
  /** Share of requests answered 429 with a Retry-After, 0..1, on top of `failureRate`. */
  readonly rateLimitRate: number;
  /** Retry-After (seconds) sent with every 429 (from `rateLimitRate`, or `status` 429). */
  readonly retryAfterSeconds: number;
  /** Milliseconds every answer (success or failure) takes. */
  readonly latencyMs: number;
  /** Extra random latency, uniform in [0, latencyJitterMs]. */
  readonly latencyJitterMs: number;
}

/** What the upstream has served since it started (monotonic counters). */
export interface UpstreamStats {
  /** Requests to `/prices/*` (everything but the control endpoint). */
  readonly requests: number;
  readonly ok: number;
  readonly failed: number;
  readonly rateLimited: number;
  readonly reset: number;
  /** Requests whose client went away before the answer (an attempt timeout upstream). */
  readonly abandoned: number;
  /** Requests being served now. */
  readonly inFlight: number;
}

export const HEALTHY_MODE: UpstreamMode = Object.freeze({
  failureRate: 0,
  status: 503,
  rateLimitRate: 0,
  retryAfterSeconds: 1,
  latencyMs: 5,
  latencyJitterMs: 5,
});

/**
 * Something that can switch the upstream's faults and report its counters: the in-process
 * {@link FlakyUpstream} itself, or {@link remoteUpstream} for one in another process.
 */
export interface UpstreamControl {
  setMode(update: Partial<UpstreamMode> & { reset?: boolean }): Promise<UpstreamMode>;
  stats(): Promise<UpstreamStats>;
}

export interface FlakyUpstreamOptions {
  /** Default 0: a free port. */
  readonly port?: number;
  /** Default 127.0.0.1: loopback only. */
  readonly host?: string;
  readonly mode?: Partial<UpstreamMode>;
  /** Seed of the failure draws, so that a run tells the same story. Default 42. */
  readonly seed?: number;
}

export class FlakyUpstream implements UpstreamControl {
  /** Base URL, `http://127.0.0.1:PORT`. */
  readonly url: string;
  private current: UpstreamMode;
  private seed: number;
  private readonly counters = {
    requests: 0,
    ok: 0,
    failed: 0,
    rateLimited: 0,
    reset: 0,
    abandoned: 0,
    inFlight: 0,
  };

  private constructor(
    private readonly server: Server,
    options: FlakyUpstreamOptions,
  ) {
    const { port } = server.address() as AddressInfo;
    this.url = `http://${options.host ?? '127.0.0.1'}:${port}`;
    this.current = checkMode({ ...HEALTHY_MODE, ...options.mode });
    this.seed = options.seed ?? 42;
  }

  /** Starts listening (127.0.0.1 on a free port by default). */
  static async start(options: FlakyUpstreamOptions = {}): Promise<FlakyUpstream> {
    let upstream: FlakyUpstream | undefined;
    const server = createServer((req, res) => upstream?.handle(req, res));
    // Keep-alive connections of the service's Axios agent must not hold `close()` for 5 s.
    server.keepAliveTimeout = 1_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
    });
    upstream = new FlakyUpstream(server, options);
    return upstream;
  }

  get mode(): UpstreamMode {
    return this.current;
  }

  /**
   * Merges `update` into the mode (after returning to healthy when `reset` is true); takes effect
   * for requests arriving from now on.
   * @throws TypeError naming an invalid field (the mode is then unchanged).
   */
  update(update: Partial<UpstreamMode> & { reset?: boolean }): UpstreamMode {
    const { reset, ...fields } = update;
    this.current = checkMode({ ...(reset === true ? HEALTHY_MODE : this.current), ...fields });
    return this.current;
  }

  async setMode(update: Partial<UpstreamMode> & { reset?: boolean }): Promise<UpstreamMode> {
    return this.update(update);
  }

  async stats(): Promise<UpstreamStats> {
    return this.snapshot();
  }

  snapshot(): UpstreamStats {
    return { ...this.counters };
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private random(): number {
    // mulberry32
    this.seed = (this.seed + 0x6d2b79f5) | 0;
    let t = this.seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === '/__control') {
      this.control(req, res);
      return;
    }
    const match = /^\/prices\/([A-Za-z0-9_-]{1,32})$/.exec(path);
    if (req.method !== 'GET' || match === null) {
      send(res, 404, { error: 'not_found' });
      return;
    }
    const sku = match[1] as string;
    const mode = this.current;
    this.counters.requests++;
    this.counters.inFlight++;
    const roll = this.random();
    const delay = mode.latencyMs + this.random() * mode.latencyJitterMs;
    let answered = false;
    const timer = setTimeout(() => {
      answered = true;
      this.counters.inFlight--;
      if (roll < mode.failureRate) {
        if (mode.status === 'reset') {
          this.counters.reset++;
          req.socket.destroy();
          return;
        }
        if (mode.status === 429) this.counters.rateLimited++;
        else this.counters.failed++;
        const retryAfter = mode.status === 429 ? mode.retryAfterSeconds : undefined;
        send(res, mode.status, { error: 'upstream fault' }, retryAfter);
      } else if (roll < mode.failureRate + mode.rateLimitRate) {
        this.counters.rateLimited++;
        send(res, 429, { error: 'slow down' }, mode.retryAfterSeconds);
      } else {
        this.counters.ok++;
        send(res, 200, { sku, price: priceOf(sku) });
      }
    }, delay);
    res.once('close', () => {
      if (answered) return;
      clearTimeout(timer);
      this.counters.inFlight--;
      this.counters.abandoned++;
    });
  }

  private control(req: IncomingMessage, res: ServerResponse): void {
    if (req.method === 'GET') {
      send(res, 200, { mode: this.current, stats: this.snapshot() });
      return;
    }
    if (req.method !== 'POST') {
      send(res, 405, { error: 'method_not_allowed' });
      return;
    }
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => {
      try {
        const parsed: unknown = body.trim() === '' ? {} : JSON.parse(body);
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
          throw new TypeError('the body must be a JSON object');
        }
        this.update(parsed as Partial<UpstreamMode> & { reset?: boolean });
        send(res, 200, { mode: this.current, stats: this.snapshot() });
      } catch (error) {
        send(res, 400, { error: 'bad_request', message: (error as Error).message });
      }
    });
  }
}

/** Controls an upstream in another process through its `/__control` endpoint. */
export function remoteUpstream(baseUrl: string): UpstreamControl {
  const controlUrl = new URL('/__control', baseUrl).toString();
  const read = async (res: Response) => {
    if (!res.ok) throw new Error(`upstream control answered ${res.status}: ${await res.text()}`);
    return (await res.json()) as { mode: UpstreamMode; stats: UpstreamStats };
  };
  return {
    async setMode(update) {
      const res = await fetch(controlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(update),
      });
      return (await read(res)).mode;
    },
    async stats() {
      return (await read(await fetch(controlUrl))).stats;
    },
  };
}

/** A stable made-up price per SKU. */
function priceOf(sku: string): number {
  let h = 7;
  for (const c of sku) h = (h * 31 + c.charCodeAt(0)) % 10_000;
  return Math.round(h) / 100 + 1;
}

function send(res: ServerResponse, status: number, body: unknown, retryAfter?: number): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (retryAfter !== undefined) headers['retry-after'] = String(retryAfter);
  res.writeHead(status, headers).end(JSON.stringify(body));
}

function checkMode(mode: UpstreamMode): UpstreamMode {
  const share = (name: keyof UpstreamMode) => {
    const v = mode[name];
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) {
      throw new TypeError(`${name} must be a number in [0, 1], got ${String(v)}`);
    }
  };
  const ms = (name: keyof UpstreamMode) => {
    const v = mode[name];
    if (typeof v !== 'number' || !(v >= 0 && v <= 600_000)) {
      throw new TypeError(`${name} must be a number of ms in [0, 600000], got ${String(v)}`);
    }
  };
  share('failureRate');
  share('rateLimitRate');
  ms('latencyMs');
  ms('latencyJitterMs');
  if (
    mode.status !== 'reset' &&
    !(Number.isInteger(mode.status) && mode.status >= 400 && mode.status <= 599)
  ) {
    throw new TypeError(`status must be 'reset' or a 4xx/5xx status, got ${String(mode.status)}`);
  }
  if (
    !(Number.isInteger(mode.retryAfterSeconds) && mode.retryAfterSeconds >= 0) ||
    mode.retryAfterSeconds > 3_600
  ) {
    throw new TypeError(
      `retryAfterSeconds must be an integer in [0, 3600], got ${String(mode.retryAfterSeconds)}`,
    );
  }
  const allowed = new Set(Object.keys(HEALTHY_MODE));
  for (const key of Object.keys(mode)) {
    if (!allowed.has(key)) throw new TypeError(`unknown upstream mode field ${key}`);
  }
  return Object.freeze({ ...mode });
}
