/**
 * Starts the Koa example service in this process: the OpenTelemetry SDK first (so the http, Koa
 * and Knex instrumentations see their modules load), then the flaky upstream, the database and
 * the app. `main.ts` (the process), `demo.ts` and the tests all go through here.
 */
import { KoaInstrumentation } from '@opentelemetry/instrumentation-koa';
import type { ExampleService, ExampleServiceOptions } from 'examples-shared/service';
import { startTelemetry, type Telemetry } from 'examples-shared/telemetry';
import type { ExampleApp } from './app.js';

export const SERVICE_NAME = 'koa-app-example';

/** The SDK of this process (started once; later calls return it). */
export function startKoaTelemetry(): Telemetry {
  return startTelemetry({
    serviceName: SERVICE_NAME,
    instrumentations: [new KoaInstrumentation()],
  });
}

export interface KoaService extends ExampleService {
  readonly telemetry: Telemetry;
  /** The app and what it is made of (middleware, upstream client). */
  readonly app: ExampleApp;
}

export async function startKoaService(options: ExampleServiceOptions = {}): Promise<KoaService> {
  const telemetry = startKoaTelemetry();
  // Loaded now, after the instrumentations: Koa and Knex load with these modules.
  const [{ startExampleService }, { createApp }] = await Promise.all([
    import('examples-shared/service'),
    import('./app.js'),
  ]);
  let app: ExampleApp | undefined;
  const service = await startExampleService(({ database, upstreamUrl, settings }) => {
    app = createApp({ database, upstreamUrl, settings, metrics: telemetry.exporter });
    return { listener: app.app.callback(), dispose: () => app?.dispose() };
  }, options);
  return Object.assign(service, { telemetry, app: app as ExampleApp });
}
