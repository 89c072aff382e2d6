/**
 * Starts the Express example service in this process: the OpenTelemetry SDK first (so the http,
 * Express and Knex instrumentations see their modules load), then the flaky upstream, the
 * database and the app. `main.ts` (the process), `demo.ts` and the tests all go through here.
 */
import { ExpressInstrumentation } from '@opentelemetry/instrumentation-express';
import type { ExampleService, ExampleServiceOptions } from 'examples-shared/service';
import { startTelemetry, type Telemetry } from 'examples-shared/telemetry';
import type { ExampleApp } from './app.js';

export const SERVICE_NAME = 'express-app-example';

/** The SDK of this process (started once; later calls return it). */
export function startExpressTelemetry(): Telemetry {
  return startTelemetry({
    serviceName: SERVICE_NAME,
    instrumentations: [new ExpressInstrumentation()],
  });
}

export interface ExpressService extends ExampleService {
  readonly telemetry: Telemetry;
  /** The app and what it is made of (middleware, upstream client). */
  readonly app: ExampleApp;
}

export async function startExpressService(
  options: ExampleServiceOptions = {},
): Promise<ExpressService> {
  const telemetry = startExpressTelemetry();
  // Loaded now, after the instrumentations: Express and Knex load with these modules.
  const [{ startExampleService }, { createApp }] = await Promise.all([
    import('examples-shared/service'),
    import('./app.js'),
  ]);
  let app: ExampleApp | undefined;
  const service = await startExampleService(({ database, upstreamUrl, settings }) => {
    app = createApp({ database, upstreamUrl, settings, metrics: telemetry.exporter });
    return { listener: app.app, dispose: () => app?.dispose() };
  }, options);
  return Object.assign(service, { telemetry, app: app as ExampleApp });
}
