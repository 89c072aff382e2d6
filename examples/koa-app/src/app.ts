/**
 * The Koa service: every adapter of the suite on one small orders API.
 *
 *   GET  /orders/:id   a Knex read, then the price from the flaky upstream through Axios
 *   POST /orders       a Knex transaction (reserve stock, insert the order)
 *   GET  /health       readiness (the database check); /status: checks, breakers, budgets, bulkheads
 *   GET  /metrics      the Prometheus exposition of the OpenTelemetry SDK
 *
 * The inbound middleware gives every request a time limit, load shedding and a retry budget;
 * the Axios interceptor and the Knex plugin read that deadline and budget without being passed
 * anything. `GET /orders/:id` also has its own breaker, which opens when the route keeps failing.
 *
 * Load this module after `startTelemetry()` (see `start.ts`): the Koa instrumentation patches
 * Koa as it loads.
 */
import Router from '@koa/router';
import type { ExampleDatabase } from 'examples-shared/database';
import {
  type Answer,
  createOrder,
  createUpstreamClient,
  getOrder,
  type OrdersDeps,
  registerHealth,
  type UpstreamClient,
} from 'examples-shared/orders';
import {
  DEFAULT_SETTINGS,
  inboundOptions,
  orderRouteOptions,
  ROUTES,
  type ServiceSettings,
} from 'examples-shared/settings';
import Koa, { type Context, type Middleware } from 'koa';
import { type KoaResilience, koaResilience } from 'otel-resilience-koa';

/** What `/metrics` serves: the SDK's `PrometheusExporter` (created with `preventServerStart`). */
export type MetricsSource = Parameters<KoaResilience['metricsEndpoint']>[0];

export interface CreateAppOptions {
  readonly database: ExampleDatabase;
  /** Base URL of the price service. */
  readonly upstreamUrl: string;
  readonly settings?: ServiceSettings;
  /** The SDK's `PrometheusExporter`, served at `/metrics`; no `/metrics` without it. */
  readonly metrics?: MetricsSource;
}

export interface ExampleApp {
  readonly app: Koa;
  /** The middleware set: `health`, `guard`. */
  readonly resilience: KoaResilience;
  /** The upstream's Axios client and its interceptor (per-host breakers). */
  readonly upstream: UpstreamClient;
  /** Releases the middleware's budget and health entries and the interceptor. */
  dispose(): void;
}

/** Largest JSON body `POST /orders` reads (as `express.json({ limit: '16kb' })`). */
const BODY_LIMIT_BYTES = 16 * 1024;

export function createApp(options: CreateAppOptions): ExampleApp {
  const settings = options.settings ?? DEFAULT_SETTINGS;
  const resilience = koaResilience(inboundOptions(settings));
  const upstream = createUpstreamClient(options.upstreamUrl, settings);
  registerHealth(resilience.health, options.database, upstream);
  const deps: OrdersDeps = { db: options.database.db, upstream };

  // Routes are declared before `app.use(router.routes())`: the Koa instrumentation wraps the
  // router's layers when the router is mounted.
  const router = new Router();
  router.get(ROUTES.getOrder, resilience.route(orderRouteOptions(settings)), async (ctx) => {
    send(ctx, await getOrder(deps, String(ctx.params.id)));
  });
  router.post(ROUTES.postOrder, async (ctx) => {
    send(ctx, await createOrder(deps, await readJsonBody(ctx, BODY_LIMIT_BYTES)));
  });

  const app = new Koa();
  // Probes and the scrape first: shedding and time limits never refuse them.
  app.use(resilience.healthEndpoints());
  if (options.metrics !== undefined) app.use(resilience.metricsEndpoint(options.metrics));
  app.use(resilience.middleware());
  app.use(jsonErrors);
  app.use(router.routes());
  app.use(router.allowedMethods());

  return {
    app,
    resilience,
    upstream,
    dispose() {
      upstream.close();
      resilience.dispose();
    },
  };
}

function send(ctx: Context, answer: Answer): void {
  if (answer.headers !== undefined) ctx.set(answer.headers);
  ctx.status = answer.status;
  ctx.body = answer.body;
}

/**
 * JSON for what the routes did not answer (404, the router's 405) and for errors: a 4xx the app
 * threw (a malformed or oversized body) keeps its status, anything else is a 500, reported to
 * Koa's `error` event (logged unless `app.silent`). After the resilience middleware answered in
 * the app's place (a timeout) these writes are dropped.
 */
const jsonErrors: Middleware = async (ctx, next) => {
  try {
    await next();
  } catch (error) {
    const status = (error as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      ctx.status = status;
      ctx.body = { error: 'bad_request' };
    } else {
      ctx.status = 500;
      ctx.body = { error: 'internal' };
      ctx.app.emit('error', error, ctx);
    }
    return;
  }
  if (ctx.body === undefined || ctx.body === null) {
    // The status first, explicitly: a body on an unset status would make it a 200.
    if (ctx.status === 404) {
      ctx.status = 404;
      ctx.body = { error: 'not_found' };
    } else if (ctx.status === 405) {
      ctx.status = 405;
      ctx.body = { error: 'method_not_allowed' };
    }
  }
};

/**
 * The request's JSON body, or `undefined` when it is not JSON or empty (Koa has no body parser;
 * this one does what `express.json()` does for this service). Throws 413 beyond `limit` bytes
 * and 400 on malformed JSON.
 */
async function readJsonBody(ctx: Context, limit: number): Promise<unknown> {
  if (!ctx.is('application/json', '+json')) return undefined;
  if (ctx.request.length !== undefined && ctx.request.length > limit) {
    ctx.throw(413, 'request body too large');
  }
  const req = ctx.req;
  const text = await new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit)
        tooLarge = true; // keep draining, so that the answer can still be written
      else if (!tooLarge) chunks.push(chunk);
    });
    req.once('end', () =>
      tooLarge
        ? reject(Object.assign(new Error('request body too large'), { status: 413 }))
        : resolve(Buffer.concat(chunks).toString('utf8')),
    );
    req.once('error', reject);
    // A client that went away before the end: no 'end' comes (nobody is left to answer either).
    req.once('close', () => {
      if (!req.complete) reject(Object.assign(new Error('request aborted'), { status: 400 }));
    });
  });
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    ctx.throw(400, 'malformed JSON');
  }
}
