// Test helpers shared by this package's tests (not part of the build: nothing imports it but tests).
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import type RouterModule from '@koa/router';
import type Koa from 'koa';
import { afterEach } from 'vitest';

const load = createRequire(import.meta.url);

/** Koa 2 and Koa 3, loaded with `require` when a test asks (after any instrumentation is enabled). */
export const KOA_MAJORS = [
  { major: 2, load: () => load('koa2') as typeof Koa },
  { major: 3, load: () => load('koa') as typeof Koa },
] as const;

/** @koa/router's class, loaded with `require`. */
export const loadRouter = (): typeof RouterModule => load('@koa/router') as typeof RouterModule;

/** A new app of the given Koa class that keeps its error logs to itself; `errors` collects them. */
export function quietApp(KoaClass: typeof Koa): { app: Koa; errors: unknown[] } {
  const app = new KoaClass();
  const errors: unknown[] = [];
  app.silent = true;
  app.on('error', (error: unknown) => errors.push(error));
  return { app, errors };
}

/** Listens on 127.0.0.1 and returns the base URL; every server is closed after each test. */
export function useServers(): (app: Koa) => Promise<string> {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(
      servers.splice(0).map(
        (server) =>
          new Promise<void>((resolve) => {
            server.closeAllConnections();
            server.close(() => resolve());
          }),
      ),
    );
  });
  return async (app) => {
    const server = await new Promise<Server>((resolve) => {
      const listening: Server = app.listen(0, '127.0.0.1', () => resolve(listening));
    });
    servers.push(server);
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// Series are process-wide: each middleware gets its own name so tests never see each other's.
let names = 0;
/** A `resilience.name` no other test uses. */
export const uniqueName = (prefix = 'koa') => `${prefix}-${++names}`;
