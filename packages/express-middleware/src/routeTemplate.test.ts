import type { RequestHandler } from 'express';
import { describe, expect, it } from 'vitest';
import { expressResilience } from './ExpressResilience.js';
import { inboundRequestOf } from './inboundRequestOf.js';
import { joinTemplate, mountTemplate } from './routeTemplate.js';
import { closeServersAfterEach, EXPRESS_MAJORS, listen, uniqueName } from './testSupport.js';

/** Answers with the route template the guard has for the request. */
const echoRoute: RequestHandler = (req, res) => {
  res.json({ route: inboundRequestOf(req)?.route ?? null });
};

describe('mountTemplate', () => {
  it('puts each parameter back where its value is a whole segment', () => {
    expect(mountTemplate('/users/42/posts', { userId: '42' })).toBe('/users/:userId/posts');
    expect(mountTemplate('/t/a%20b', { tenant: 'a b' })).toBe('/t/:tenant');
    expect(mountTemplate('/api/v1', {})).toBe('/api/v1');
    expect(mountTemplate('/api/v1', undefined)).toBe('/api/v1');
  });

  it('gives up (undefined) rather than keep a value it cannot place', () => {
    expect(mountTemplate('/v2', { 0: '2' })).toBeUndefined(); // RegExp mount /^\/v(\d+)/
    expect(mountTemplate('/files/a/b', { rest: ['a', 'b'] })).toBeUndefined(); // Express 5 *rest
  });
});

describe('joinTemplate', () => {
  it('joins like the Express instrumentation builds http.route', () => {
    expect(joinTemplate('/api', '/users/:id')).toBe('/api/users/:id');
    expect(joinTemplate('/api', '/')).toBe('/api');
    expect(joinTemplate('', '/')).toBe('/');
    expect(joinTemplate('/api/', '/x')).toBe('/api/x');
  });
});

describe.each(EXPRESS_MAJORS)('route templates on %s', (major, loadExpress) => {
  const express = loadExpress();
  closeServersAfterEach();

  async function serve(build: (app: ReturnType<typeof express>) => void) {
    const app = express();
    app.use(expressResilience({ name: uniqueName() }).middleware());
    build(app);
    const url = await listen(app);
    return async (path: string) => {
      const response = await fetch(url + path);
      return response.status === 200
        ? ((await response.json()) as { route: string | null }).route
        : response.status;
    };
  }

  it('reports the route path of app routes, never the requested path', async () => {
    const routeOf = await serve((app) => {
      app.get('/users/:id', echoRoute);
      app.get('/', echoRoute);
    });
    expect(await routeOf('/users/42?x=1')).toBe('/users/:id');
    expect(await routeOf('/')).toBe('/');
  });

  it('adds the templates of nested routers and sub-apps, with their parameters rebuilt', async () => {
    const routeOf = await serve((app) => {
      const items = express.Router();
      items.get('/items/:id', echoRoute);
      items.get('/', echoRoute);
      app.use('/api/v1', items);

      const orders = express.Router();
      orders.get('/orders/:orderId', echoRoute);
      const lines = express.Router({ mergeParams: true });
      lines.get('/lines/:line', echoRoute);
      orders.use('/orders/:orderId', lines);
      app.use('/tenants/:tenant', orders);

      const admin = express();
      admin.get('/users/:id', echoRoute);
      app.use('/admin', admin);
    });
    expect(await routeOf('/api/v1/items/9')).toBe('/api/v1/items/:id');
    expect(await routeOf('/api/v1')).toBe('/api/v1');
    expect(await routeOf('/tenants/acme/orders/17')).toBe('/tenants/:tenant/orders/:orderId');
    expect(await routeOf('/tenants/acme/orders/17/lines/3')).toBe(
      '/tenants/:tenant/orders/:orderId/lines/:line',
    );
    expect(await routeOf('/admin/users/5')).toBe('/admin/users/:id');
    // After leaving a router, the parent's template applies again.
    expect(await routeOf('/api/v1/items/1')).toBe('/api/v1/items/:id');
  });

  it('keeps the route that finally answered when an earlier one passed the request on', async () => {
    const routeOf = await serve((app) => {
      app.get('/docs/:slug', (req, _res, next) =>
        req.params.slug === 'latest' ? next() : next('route'),
      );
      app.get('/docs/latest', echoRoute);
    });
    expect(await routeOf('/docs/latest')).toBe('/docs/latest');
  });

  it('reports RegExp and array routes by their source, and a mount it cannot rebuild not at all', async () => {
    const routeOf = await serve((app) => {
      app.get(/^\/hex\/[0-9a-f]+$/, echoRoute);
      app.get(['/a', '/b'], echoRoute);
      const versioned = express.Router();
      versioned.get('/ping', echoRoute);
      app.use(/^\/v(\d+)/, versioned);
    });
    expect(await routeOf('/hex/beef')).toBe('/^\\/hex\\/[0-9a-f]+$/');
    expect(await routeOf('/b')).toBe('/a,/b');
    expect(await routeOf('/v3/ping')).toBeNull();
  });

  it(`understands the ${major} wildcard and optional syntax`, async () => {
    const routeOf = await serve((app) => {
      if (major === 'Express 5') {
        app.get('/files/*path', echoRoute);
        app.get('/pages{/:page}', echoRoute);
      } else {
        app.get('/files/*', echoRoute);
        app.get('/pages/:page?', echoRoute);
      }
    });
    const [files, pages] =
      major === 'Express 5' ? ['/files/*path', '/pages{/:page}'] : ['/files/*', '/pages/:page?'];
    expect(await routeOf('/files/a/b/c.txt')).toBe(files);
    expect(await routeOf('/pages')).toBe(pages);
    expect(await routeOf('/pages/2')).toBe(pages);
  });

  it('leaves Express routing unchanged: req.baseUrl, req.route and req.params read as before', async () => {
    const routeOf = await serve((app) => {
      const router = express.Router();
      router.get('/:id', (req, res) => {
        res.json({
          route: `${req.baseUrl}|${req.route.path}|${req.params.id}|${'baseUrl' in req}`,
        });
      });
      app.use('/things', router);
    });
    // The first request of an app, and later ones (see the next test), alike.
    expect(await routeOf('/things/8')).toBe('/things|/:id|8|true');
    expect(await routeOf('/things/9')).toBe('/things|/:id|9|true');
  });

  it(`follows routing ${major === 'Express 5' ? 'without' : 'with'} accessors on the request object itself once the app has served a request`, async () => {
    const owners: string[] = [];
    const routeOf = await serve((app) => {
      const lines = express.Router();
      lines.get('/lines/:line', (req, res, next) => {
        const own = Object.getOwnPropertyDescriptor(req, 'baseUrl');
        owners.push(own === undefined ? 'prototype' : own.get ? 'accessor' : 'data');
        echoRoute(req, res, next);
      });
      app.use('/orders/:orderId', lines);
    });
    for (const order of ['1', '2', '3']) {
      expect(await routeOf(`/orders/${order}/lines/4`)).toBe('/orders/:orderId/lines/:line');
    }
    // Turning the request's own `baseUrl` into an accessor costs V8's fast properties for the
    // request: Express 5 sets the app's request prototype before routing starts, so the accessors
    // live there from the second request on; Express 4's router assigns `baseUrl` first.
    expect(owners).toEqual(
      major === 'Express 5'
        ? ['accessor', 'prototype', 'prototype']
        : ['accessor', 'accessor', 'accessor'],
    );
  });

  it('keeps following sub-apps on the prototype path', async () => {
    const routeOf = await serve((app) => {
      const admin = express();
      const users = express.Router();
      users.get('/:id', echoRoute);
      admin.use('/teams/:team/users', users);
      app.use('/admin', admin);
    });
    for (let round = 0; round < 3; round++) {
      expect(await routeOf('/admin/teams/red/users/5')).toBe('/admin/teams/:team/users/:id');
    }
  });
});
