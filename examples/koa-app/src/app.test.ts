/*
 * The Koa service in this process, with its flaky upstream and SQLite database, checked through
 * HTTP only: what a client, a load balancer and Prometheus see.
 */
import { describeServiceInProcess } from 'examples-shared/serviceSuite';
import { expect, it } from 'vitest';
import { startKoaService } from './start.js';

/** What reached Koa's `error` event: nothing, not even from handlers the guard answered for. */
const koaErrors: unknown[] = [];

describeServiceInProcess({
  framework: 'Koa',
  serviceName: 'koa-app-example',
  start: startKoaService,
  afterStart: (service) => service.app.app.on('error', (error: unknown) => koaErrors.push(error)),
  extraTests: ({ service, get, json }) => {
    it('answers in JSON where Koa would answer in text: bodies it cannot read, unknown paths and methods', async () => {
      const post = (body: string, type = 'application/json') =>
        fetch(`${service().url}/orders`, {
          method: 'POST',
          headers: { 'content-type': type },
          body,
        });
      const malformed = await post('{"sku":');
      expect(malformed.status).toBe(400);
      expect(await json(malformed)).toEqual({ error: 'bad_request' });
      const tooLarge = await post(
        JSON.stringify({ sku: 'A1', quantity: 1, pad: 'x'.repeat(20_000) }),
      );
      expect(tooLarge.status).toBe(413);
      expect(await json(tooLarge)).toEqual({ error: 'bad_request' });
      // Not JSON: no body at all for the handler (as express.json() leaves it).
      const form = await post('sku=A1&quantity=1', 'application/x-www-form-urlencoded');
      expect(form.status).toBe(400);
      expect(await json(form)).toEqual({ error: 'unknown_sku' });
      const put = await fetch(`${service().url}/orders/1`, { method: 'PUT' });
      expect(put.status).toBe(405);
      expect(put.headers.get('allow')).toBe('HEAD, GET');
      expect(await json(put)).toEqual({ error: 'method_not_allowed' });
      const missing = await get('/nowhere');
      expect(missing.status).toBe(404);
      expect(missing.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await json(missing)).toEqual({ error: 'not_found' });
    });

    it("reports nothing to Koa's error event, not even for handlers the guard answered for", () => {
      // The handlers of the requests that timed out earlier finished long ago, writing into
      // responses the guard had ended: dropped, and no error for Koa.
      expect(koaErrors).toEqual([]);
    });
  },
});
