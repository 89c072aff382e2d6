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
  return (base + path).replace(/\/{2,}/g, '/');
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
  const entries = Object.entries(params ?? {}).filter(
    (entry): entry is [string, string] => typeof entry[1] === 'string',
  );
  if (entries.length === 0) {
    // A mount without parameters is its own template; one with parameters of other kinds
    // (Express 5 wildcards give arrays) cannot be rebuilt.
    return Object.keys(params ?? {}).length === 0 ? segment : undefined;
  }
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

/** Route followers by request: the route middleware asks the one the app middleware started. */
const followers = new WeakMap<IncomingMessage, RouteFollower>();

/**
 * Follows Express's routing of one request to know its route template as soon as a route matches,
 * without patching Express: `req.baseUrl` and `req.route` become accessors on this request object.
 * Each time a router enters a mount it assigns `req.baseUrl` right after `req.params` took the
 * mount's parameters, so the mount's template is rebuilt then ({@link mountTemplate}); each time a
 * route matches it assigns `req.route`, and `onRoute` receives the full template (mount templates +
 * route path, `undefined` when a mount could not be rebuilt). Both properties keep behaving as
 * plain data for Express and for everyone else.
 */
export class RouteFollower {
  private baseUrl: string | undefined;
  private route: RoutedRequest['route'];
  /**
   * Templates of the mount prefixes seen so far, by actual prefix: a router restores its parent's
   * `baseUrl` when it leaves and the parent's template is found here. One entry per mount level.
   */
  private readonly templates = new Map<string, string | undefined>();
  /** `req.params` when each mount was entered: a child router with `mergeParams` inherits them. */
  private readonly paramsAt = new Map<string, Record<string, unknown> | undefined>();

  constructor(
    private readonly req: RoutedRequest,
    onRoute: (template: string | undefined) => void,
  ) {
    this.baseUrl = req.baseUrl;
    this.route = req.route;
    const actual = this.baseUrl ?? '';
    this.templates.set(actual, mountTemplate(actual, req.params));
    this.paramsAt.set(actual, req.params);
    const follower = this;
    Object.defineProperty(req, 'baseUrl', {
      configurable: true,
      enumerable: true,
      get: () => follower.baseUrl,
      set: (value: string | undefined) => follower.enterMount(value),
    });
    Object.defineProperty(req, 'route', {
      configurable: true,
      enumerable: true,
      get: () => follower.route,
      set(value: RoutedRequest['route']) {
        follower.route = value;
        onRoute(follower.current());
      },
    });
    followers.set(req, this);
  }

  /** The template of the route (or, outside a route, the mount) the request is in now. */
  current(): string | undefined {
    const base = this.templates.get(this.baseUrl ?? '');
    if (base === undefined) return undefined;
    const path = pathText(this.route?.path);
    if (path === undefined) return base === '' ? undefined : base;
    return joinTemplate(base, path);
  }

  private enterMount(value: string | undefined): void {
    const parent = this.baseUrl ?? '';
    this.baseUrl = value;
    if (typeof value !== 'string' || this.templates.has(value)) return;
    const params = this.req.params;
    this.paramsAt.set(value, params);
    let template: string | undefined;
    if (value.startsWith(parent) && this.templates.has(parent)) {
      const parentTemplate = this.templates.get(parent);
      const own = mountTemplate(
        value.slice(parent.length),
        ownParams(params, this.paramsAt.get(parent)),
      );
      template =
        parentTemplate === undefined || own === undefined ? undefined : parentTemplate + own;
    } else template = mountTemplate(value, params);
    this.templates.set(value, template);
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
  const follower = followers.get(req);
  if (follower !== undefined) return follower.current();
  const base = req.baseUrl ?? '';
  const path = pathText(req.route?.path);
  if (path === undefined) return base === '' ? undefined : base;
  return joinTemplate(base, path);
}
