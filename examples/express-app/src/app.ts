/**
 * The Express service: every adapter of the suite on one small orders API.
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
 * Load this module after `startTelemetry()` (see `start.ts`): the Express instrumentation patches
 * Express as it loads.
 */
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
import express, { type ErrorRequestHandler, type Response } from 'express';
import {
  type ExpressResilience,
  expressResilience,
  type PrometheusRequestHandlerSource,
} from 'otel-resilience-express';

export interface CreateAppOptions {
  readonly database: ExampleDatabase;
  /** Base URL of the price service. */
  readonly upstreamUrl: string;
  readonly settings?: ServiceSettings;
  /** The SDK's `PrometheusExporter`, served at `/metrics`; no `/metrics` without it. */
  readonly metrics?: PrometheusRequestHandlerSource;
}

export interface ExampleApp {
  readonly app: express.Express;
  /** The middleware set: `health`, `guard`. */
  readonly resilience: ExpressResilience;
  /** The upstream's Axios client and its interceptor (per-host breakers). */
  readonly upstream: UpstreamClient;
  /** Releases the middleware's budget and health entries and the interceptor. */
  dispose(): void;
}

export function createApp(options: CreateAppOptions): ExampleApp {
  const settings = options.settings ?? DEFAULT_SETTINGS;
  const resilience = expressResilience(inboundOptions(settings));
  const upstream = createUpstreamClient(options.upstreamUrl, settings);
  registerHealth(resilience.health, options.database, upstream);
  const deps: OrdersDeps = { db: options.database.db, upstream };

  const app = express();
  app.disable('x-powered-by');
  // Probes and the scrape first: shedding and time limits never refuse them.
  app.use(resilience.healthEndpoints());
  if (options.metrics !== undefined)
    app.get('/metrics', resilience.metricsEndpoint(options.metrics));
  app.use(resilience.middleware());
  app.use(express.json({ limit: '16kb' }));

  app.get(ROUTES.getOrder, resilience.route(orderRouteOptions(settings)), async (req, res) => {
    send(res, await getOrder(deps, String(req.params.id)));
  });
  app.post(ROUTES.postOrder, async (req, res) => {
    send(res, await createOrder(deps, req.body));
  });

  app.use((_req, res) => {
    res.status(404).json({ error: 'not_found' });
  });
  const onError: ErrorRequestHandler = (error, _req, res, _next) => {
    const status = (error as { status?: unknown }).status;
    // Body-parser errors carry a 4xx status; anything else is ours.
    if (typeof status === 'number' && status >= 400 && status < 500) {
      res.status(status).json({ error: 'bad_request' });
    } else {
      res.status(500).json({ error: 'internal' });
    }
  };
  app.use(onError);

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

function send(res: Response, answer: Answer): void {
  if (answer.headers !== undefined) res.set(answer.headers);
  res.status(answer.status).json(answer.body);
}
