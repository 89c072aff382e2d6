/* Test helpers shared by this package's tests (not part of the build: only index.ts is). */
import { createServer, type RequestListener, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { trace } from '@opentelemetry/api';
import type express from 'express';
import { afterEach } from 'vitest';

export type Express = typeof express;

const requireHere = createRequire(import.meta.url);

/**
 * Both supported majors, loaded on demand with `require` — after any instrumentation a test
 * enables, since instrumentations patch modules when they are required.
 */
export const EXPRESS_MAJORS: ReadonlyArray<readonly [string, () => Express]> = [
  ['Express 4', () => requireHere('express4') as Express],
  ['Express 5', () => requireHere('express') as Express],
];

const servers: Server[] = [];

/** Closes every server {@link listen} opened, after each test. */
export function closeServersAfterEach(): void {
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
}

/** Serves `listener` on 127.0.0.1 at a free port; returns its base URL. */
export async function listen(listener: RequestListener): Promise<string> {
  const server = createServer(listener);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * Like {@link listen}, with every request inside an active span named `server` (what the http
 * instrumentation would start), so span events can be checked without it.
 */
export function listenInSpan(listener: RequestListener): Promise<string> {
  return listen((req, res) => {
    trace.getTracer('test').startActiveSpan('server', (span) => {
      res.once('close', () => span.end());
      listener(req, res);
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// Series are process-wide: each instance gets its own name so tests do not see each other's counts.
let instances = 0;
/** A `resilience.name` no other test uses. */
export const uniqueName = (prefix = 'express'): string => `${prefix}-${++instances}`;
