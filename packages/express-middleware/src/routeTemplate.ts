import type { IncomingMessage } from 'node:http';

/** The parts of Express's request (4 and 5) that routing writes and the templates are read from. */
export interface RoutedRequest extends IncomingMessage {
  baseUrl?: string;
  route?: { path?: unknown } | undefined;
  params?: Record<string, unknown>;
}

/** A route path as Express was given it: a string, a RegExp, or an array of them. */
function pathText(path: unknown): string | undefined {
  if (typeof path === 'string') return path;
  if (path instanceof RegExp) return String(path);
  if (Array.isArray(path)) {
    const parts = path.map(pathText);
    return parts.includes(undefined) ? undefined : parts.join(',');
  }
  return undefined;
}

/**
 * Joins a mount template and a route path the way `@opentelemetry/instrumentation-express` builds
 * `http.route`, so both report the same value: a route `/` adds nothing to its mount, and
 * repeated slashes collapse.
 */
export function joinTemplate(base: string, path: string): string {
  if (path === '/' && base !== '') return base;
  const joined = base === '' ? path : base + path;
  return joined.includes('//') ? joined.replace(/\/{2,}/g, '/') : joined;
}

function decoded(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

/**
 * Turns the part of `req.baseUrl` a mount just matched (`/users/42/posts`) back into its template
 * (`/users/:userId/posts`) with the parameters the mount matched (`{ userId: '42' }`): each path
 * segment equal to a parameter's value becomes `:name`. `undefined` when a parameter's value is not
 * a whole segment (a RegExp or wildcard mount): the request is then reported under the unmatched
 * bucket rather than under a value that could be an id.
 */
export function mountTemplate(
  segment: string,
  params: Record<string, unknown> | undefined,
): string | undefined {
  // A mount without parameters is its own template.
  if (params === undefined || !hasOwnKeys(params)) return segment;
  const entries = Object.entries(params).filter(
    (entry): entry is [string, string] => typeof entry[1] === 'string',
  );
  // Parameters of other kinds only (Express 5 wildcards give arrays) cannot be rebuilt.
  if (entries.length === 0) return undefined;
  const unplaced = new Set(entries.map(([name]) => name));
  const template = segment
    .split('/')
    .map((part) => {
      if (part === '') return part;
      const value = decoded(part);
      const found = entries.find(([, v]) => v === value);
      if (found === undefined) return part;
      unplaced.delete(found[0]);
      return `:${found[0]}`;
    })
    .join('/');
  return unplaced.size === 0 ? template : undefined;
}

/** Whether `object` has an own enumerable key (without listing them). */
function hasOwnKeys(object: object): boolean {
  for (const key in object) if (Object.hasOwn(object, key)) return true;
  return false;
}

/**
 * Where the app middleware keeps a request's {@link RouteFollower}, and where the accessors below
 * keep `req.baseUrl` and `req.route`. Global symbols: two copies of this package guarding one app
 * (the ESM and CJS builds) share the accessors and the follower the first one started.
 */
const FOLLOWER = Symbol.for('otel-resilience-express.route-follower');
const BASE_URL = Symbol.for('otel-resilience-express.base-url');
const ROUTE = Symbol.for('otel-resilience-express.route');

type FollowedRequest = RoutedRequest & {
  [FOLLOWER]?: RouteFollower;
  [BASE_URL]?: string;
  [ROUTE]?: RoutedRequest['route'];
};

// One pair of accessors for every request and every app: the values live on the request under the
// symbols above, and the request's follower (if any) hears every assignment.
const BASE_URL_ACCESSOR: PropertyDescriptor = {
  configurable: true,
  enumerable: true,
  get(this: FollowedRequest) {
    return this[BASE_URL];
  },
  set(this: FollowedRequest, value: string | undefined) {
    const parent = this[BASE_URL];
    this[BASE_URL] = value;
    this[FOLLOWER]?.enterMount(parent, value);
  },
};
const ROUTE_ACCESSOR: PropertyDescriptor = {
  configurable: true,
  enumerable: true,
  get(this: FollowedRequest) {
    return this[ROUTE];
  },
  set(this: FollowedRequest, value: RoutedRequest['route']) {
    this[ROUTE] = value;
    this[FOLLOWER]?.enterRoute();
  },
};
/** Marks a request prototype (or an ancestor of it) that has the accessors. */
const ACCESSORS_ON = Symbol.for('otel-resilience-express.route-accessors');

/**
 * Makes `req.baseUrl` and `req.route` the accessors above, so that every assignment Express makes
 * is heard. Where it can, on the app's request prototype (`app.request`, made by Express for each
 * app, inherited by mounted sub-apps), once per app: the request object itself then keeps its
 * shape. Turning a data property the request already owns into an accessor would switch V8 to
 * slow (dictionary) properties for that request, which costs every later property access made by
 * Express and the handlers. That happens only where Express assigned `req.baseUrl` before the
 * prototype was in place: always on Express 4 (its router starts before `expressInit` sets the
 * prototype), on Express 5 for requests that arrived before the first one this middleware saw, and
 * for apps guarded from inside a sub-app.
 */
function followAssignments(req: FollowedRequest): void {
  const prototype: unknown = Object.getPrototypeOf(req);
  if (!isAppRequest(prototype)) {
    followOnInstance(req);
    return;
  }
  if (!(ACCESSORS_ON in prototype)) {
    Object.defineProperty(prototype, 'baseUrl', BASE_URL_ACCESSOR);
    Object.defineProperty(prototype, 'route', ROUTE_ACCESSOR);
    Object.defineProperty(prototype, ACCESSORS_ON, { value: true });
  }
  if (Object.hasOwn(req, 'baseUrl') || Object.hasOwn(req, 'route')) followOnInstance(req);
}

/** The accessors on the request object itself (slow properties from then on: see above). */
function followOnInstance(req: FollowedRequest): void {
  const { baseUrl, route } = req;
  req[BASE_URL] = baseUrl;
  req[ROUTE] = route;
  Object.defineProperty(req, 'baseUrl', BASE_URL_ACCESSOR);
  Object.defineProperty(req, 'route', ROUTE_ACCESSOR);
}

/**
 * Whether `prototype` is an Express app's `app.request`: Express 4 and 5 both make it with an own
 * `app` property. Anything else (Node's `IncomingMessage.prototype` when the middleware runs
 * outside Express) is never touched.
 */
function isAppRequest(prototype: unknown): prototype is object {
  return typeof prototype === 'object' && prototype !== null && Object.hasOwn(prototype, 'app');
}

/**
 * Follows Express's routing of one request to know its route template as soon as a route matches,
 * without patching Express: `req.baseUrl` and `req.route` become accessors
 * ({@link followAssignments}) that keep behaving as plain data for Express and everyone else. Each
 * time a router enters a mount it assigns `req.baseUrl` right after `req.params` took the mount's
 * parameters, so the mount's template is rebuilt then ({@link mountTemplate}); each time a route
 * matches it assigns `req.route`, and `reportTo.route` is set to the full template (mount
 * templates + route path, `undefined` when a mount could not be rebuilt).
 */
export class RouteFollower {
  /** The `baseUrl` the request arrived with (`''` for the app itself) and its template. */
  private readonly rootUrl: string;
  private readonly rootTemplate: string | undefined;
  private readonly rootParams: Record<string, unknown> | undefined;
  /**
   * Templates of the mount prefixes entered below the root, by actual prefix: a router restores
   * its parent's `baseUrl` when it leaves and the parent's template is found here. Made on the
   * first mount; most requests enter none.
   */
  private mounts:
    | Map<string, { template: string | undefined; params: RoutedRequest['params'] }>
    | undefined;

  constructor(
    private readonly req: RoutedRequest,
    /** Told the template each time a route matches (the request's `InboundRequest`). */
    private readonly reportTo: { route: string | undefined },
  ) {
    this.rootUrl = req.baseUrl ?? '';
    this.rootParams = req.params;
    this.rootTemplate = mountTemplate(this.rootUrl, req.params);
    followAssignments(req);
    (req as FollowedRequest)[FOLLOWER] = this;
  }

  /** The template of the route (or, outside a route, the mount) the request is in now. */
  current(): string | undefined {
    const base = this.templateOf(this.req.baseUrl ?? '');
    if (base === undefined) return undefined;
    const path = pathText(this.req.route?.path);
    if (path === undefined) return base === '' ? undefined : base;
    return joinTemplate(base, path);
  }

  /** Express assigned `req.route`: a route matched (or the request left it). @internal */
  enterRoute(): void {
    this.reportTo.route = this.current();
  }

  /** Express assigned `req.baseUrl`: a router entered or left a mount. @internal */
  enterMount(previous: string | undefined, value: string | undefined): void {
    if (typeof value !== 'string' || value === this.rootUrl || this.mounts?.has(value)) return;
    const parent = previous ?? '';
    const params = this.req.params;
    let template: string | undefined;
    if (value.startsWith(parent) && (parent === this.rootUrl || this.mounts?.has(parent))) {
      const parentTemplate = this.templateOf(parent);
      const own = mountTemplate(
        value.slice(parent.length),
        ownParams(params, this.paramsOf(parent)),
      );
      template =
        parentTemplate === undefined || own === undefined ? undefined : parentTemplate + own;
    } else template = mountTemplate(value, params);
    this.mounts ??= new Map();
    this.mounts.set(value, { template, params });
  }

  private templateOf(url: string): string | undefined {
    return url === this.rootUrl ? this.rootTemplate : this.mounts?.get(url)?.template;
  }

  private paramsOf(url: string): RoutedRequest['params'] {
    return url === this.rootUrl ? this.rootParams : this.mounts?.get(url)?.params;
  }
}

/** The parameters a mount matched itself: those not inherited unchanged from its parent. */
function ownParams(
  params: Record<string, unknown> | undefined,
  inherited: Record<string, unknown> | undefined,
): Record<string, unknown> | undefined {
  if (params === undefined || inherited === undefined) return params;
  const own: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(params)) {
    if (inherited[name] !== value) own[name] = value;
  }
  return own;
}

/**
 * The template of the route or mount `req` is in now: for a route middleware, the mount
 * templates + `req.route.path`; for a middleware mounted with `app.use(path, …)`, the mount's
 * template. Without a {@link RouteFollower} (no app middleware), `req.baseUrl` is taken as it is,
 * which is the template only when no mount path has parameters. `undefined` when nothing matched
 * yet or a mount could not be rebuilt.
 */
export function currentTemplate(req: RoutedRequest): string | undefined {
  const follower = (req as FollowedRequest)[FOLLOWER];
  if (follower !== undefined) return follower.current();
  const base = req.baseUrl ?? '';
  const path = pathText(req.route?.path);
  if (path === undefined) return base === '' ? undefined : base;
  return joinTemplate(base, path);
}
