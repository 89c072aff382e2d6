import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import axios from 'axios';
import { points, useTestTelemetry } from 'otel-resilience/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { attachResilience } from './index.js';
import { spansNamed } from './testSupport.js';

const telemetry = useTestTelemetry();
let seq = 0;
const servers: Server[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

/** A server on 127.0.0.1 whose n-th request (from 0) is answered by `handle(n, req, res)`. */
function serve(handle: (n: number, res: import('node:http').ServerResponse) => void) {
  let n = 0;
  const server = createServer((req, res) => {
    req.resume();
    handle(n++, res);
  });
  servers.push(server);
  return new Promise<{ url: string; hits: () => number }>((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        hits: () => n,
      }),
    ),
  );
}

/** A port nothing listens on: a server is opened, its port noted, then closed. */
async function closedPort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

function client() {
  const name = `real-${++seq}`;
  const api = axios.create();
  attachResilience(api, { name, retry: { random: () => 0 } });
  return { api, name };
}

const errorTypes = (name: string) =>
  spansNamed(telemetry.spans(), `resilience ${name} attempt`).map(
    (s) => s.attributes['error.type'],
  );

describe('against real sockets', () => {
  it('a "socket hang up" (server drops the connection) is retried for GET', async () => {
    const server = await serve((n, res) => (n === 0 ? res.socket?.destroy() : res.end('ok')));
    const { api, name } = client();
    expect((await api.get(server.url)).data).toBe('ok');
    expect(errorTypes(name)).toEqual(['ECONNRESET', undefined]);
  });

  it('a POST whose connection dropped is not retried: the server may have acted on it', async () => {
    const server = await serve((_n, res) => res.socket?.destroy());
    const { api } = client();
    await expect(api.post(server.url, { order: 1 })).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(server.hits()).toBe(1);
  });

  it('a POST to a refused connection is retried: it never left', async () => {
    const url = await closedPort();
    const { api, name } = client();
    await expect(api.post(url, { order: 1 })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(errorTypes(name)).toEqual(['ECONNREFUSED', 'ECONNREFUSED', 'ECONNREFUSED']);
  });

  it("Axios's own timeout option is classified as a timeout and retried", async () => {
    const server = await serve((n, res) => {
      if (n === 0) setTimeout(() => res.end('late'), 300);
      else res.end('ok');
    });
    const { api, name } = client();
    expect((await api.get(server.url, { timeout: 30 })).data).toBe('ok');
    expect(errorTypes(name)).toEqual(['ECONNABORTED', undefined]);
    const decisions = points(await telemetry.collect(), 'resilience.retry.decisions').filter(
      (p) => p.attributes['resilience.name'] === name,
    );
    expect(decisions.map((p) => p.attributes['resilience.error.category'])).toEqual(['timeout']);
  });
});
