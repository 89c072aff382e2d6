import type { Context } from 'koa';

/** What @koa/router (and the older `koa-router`) leave on the context once a route matched. */
interface RouterContext {
  /** The matched layer's path: the template (`/orders/:id`), or a RegExp route. */
  readonly _matchedRoute?: string | RegExp;
  /** Older routers' name for the matched template; newer ones also read it as a path override. */
  readonly routerPath?: string;
  /** The layers that matched the request path. */
  readonly matched?: ReadonlyArray<{ readonly path?: string | RegExp }>;
}

/**
 * The route template the router matched for this request (`/orders/:id`), or `undefined` when no
 * route matched. Only templates written in the application's code come back — never the raw path —
 * so `http.route` stays bounded: `ctx._matchedRoute` (set by @koa/router and `koa-router`), else
 * `ctx.routerPath` only when it is the path of a layer the router matched (older routers set it to
 * the template; newer ones let users set it to a raw path to re-route).
 */
export function routeTemplateOf(ctx: Context): string | undefined {
  const routed = ctx as Context & RouterContext;
  const matchedRoute = routed._matchedRoute;
  if (matchedRoute !== undefined && matchedRoute !== null) return String(matchedRoute);
  const routerPath = routed.routerPath;
  if (typeof routerPath !== 'string' || !Array.isArray(routed.matched)) return undefined;
  return routed.matched.some((layer) => layer.path === routerPath) ? routerPath : undefined;
}
