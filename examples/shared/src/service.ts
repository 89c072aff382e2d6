/**
 * Starting an example service, whatever its framework: the flaky upstream (unless an external one
 * is given), the database, the app built by the framework's `build` function, an HTTP server on
 * 127.0.0.1. Used by each app's `main.ts` (a process), `demo.ts` and tests (in process), and by
 * end-to-end tests that start the service and drive its upstream from outside.
 *
 * Load this module (and the app) only after `startTelemetry()`, with a dynamic `import()`: it
 * loads Knex, and the instrumentations must see the framework and Knex load.
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ExampleDatabase, openDatabase } from './database.js';
import {
  FlakyUpstream,
  remoteUpstream,
  type UpstreamControl,
  type UpstreamMode,
} from './FlakyUpstream.js';
import {
  databaseOptions,
  resolveSettings,
  type ServiceSettings,
  type SettingsOverrides,
} from './settings.js';

export interface ExampleServiceOptions {
  /** Port of the service; default 0 (a free one). */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** An upstream already running elsewhere (its `/__control` is used); default: start one here. */
  readonly upstreamUrl?: string;
  /** Initial mode of the upstream started here. */
  readonly upstreamMode?: Partial<UpstreamMode>;
  /** PostgreSQL URL; default SQLite in a temporary directory. */
  readonly databaseUrl?: string;
  readonly settings?: SettingsOverrides;
}

/** What a framework's app builder receives. */
export interface AppDependencies {
  readonly database: ExampleDatabase;
  readonly upstreamUrl: string;
  readonly settings: ServiceSettings;
}

/** What a framework's app builder returns. */
export interface BuiltApp {
  /** The request listener: an Express app, or a Koa app's `callback()`. */
  readonly listener: RequestListener;
  /** Releases what the app created (middleware, interceptor). */
  dispose(): void;
}

export interface ExampleService {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  readonly upstream: {
    readonly url: string;
    /** Switches the upstream's faults (in process, or through its control endpoint). */
    readonly control: UpstreamControl;
    /** The upstream when this process started it. */
    readonly local?: FlakyUpstream;
  };
  readonly database: ExampleDatabase;
  readonly settings: ServiceSettings;
  readonly server: Server;
  /** Stops the server, the app, the database and the upstream started here. */
  close(): Promise<void>;
}

export async function startExampleService(
  build: (deps: AppDependencies) => BuiltApp | Promise<BuiltApp>,
  options: ExampleServiceOptions = {},
): Promise<ExampleService> {
  const settings = resolveSettings(options.settings);
  const local =
    options.upstreamUrl === undefined
      ? await FlakyUpstream.start(options.upstreamMode ? { mode: options.upstreamMode } : {})
      : undefined;
  const upstreamUrl = local?.url ?? (options.upstreamUrl as string);
  const cleanups: Array<() => unknown> = [];
  try {
    if (local !== undefined) cleanups.push(() => local.close());
    const database = await openDatabase({
      ...(options.databaseUrl === undefined ? {} : { url: options.databaseUrl }),
      resilience: databaseOptions(settings),
    });
    cleanups.push(() => database.close());
    const app = await build({ database, upstreamUrl, settings });
    cleanups.push(() => app.dispose());
    const server = createServer(app.listener);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    const host = options.host ?? '127.0.0.1';
    let closing: Promise<void> | undefined;
    return {
      url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
      upstream: {
        url: upstreamUrl,
        control: local ?? remoteUpstream(upstreamUrl),
        ...(local === undefined ? {} : { local }),
      },
      database,
      settings,
      server,
      close() {
        closing ??= (async () => {
          await new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          });
          for (const cleanup of cleanups.reverse()) await cleanup();
        })();
        return closing;
      },
    };
  } catch (error) {
    for (const cleanup of cleanups.reverse()) await cleanup();
    throw error;
  }
}
