import { diag } from '@opentelemetry/api';
import type { HealthRegistry } from '../health/HealthRegistry.js';
import { type HttpAnswer, jsonAnswer } from './HttpAnswer.js';

/**
 * Decides whether a request may read an operational endpoint (`/health`, `/status`, `/metrics`),
 * synchronously or not, from the framework's request object (Express `req`, Koa `ctx`). Only
 * `true` lets it through; `false`, anything else, a throw or a rejection refuses it (fail closed).
 */
export type AuthorizeHook<Request> = (request: Request) => boolean | PromiseLike<boolean>;

/** Options of an endpoint a user may protect. */
export interface ProtectedEndpointOptions<Request> {
  /** Who may read the endpoint. Default: everyone. */
  readonly authorize?: AuthorizeHook<Request>;
  /** Status of a refused request: 401 (not authenticated) or 403 (not allowed). Default: 403. */
  readonly deniedStatus?: 401 | 403;
}

/** Options of {@link HealthEndpoints}. */
export interface HealthEndpointsOptions<Request> extends ProtectedEndpointOptions<Request> {
  /**
   * Path of the readiness endpoint: 200 `{ status, ready: true }` when the service should receive
   * traffic, else 503 with `ready: false`. `null` serves none. Default: `'/health'`.
   */
  readonly healthPath?: string | null;
  /**
   * Path of the status endpoint: always 200, with the registry's whole report (overall `status`,
   * `ready`, `checkedAt`, `checks`, `breakers`, `bulkheads`, `budgets`). `null` serves none.
   * Default: `'/status'`.
   */
  readonly statusPath?: string | null;
}

/**
 * The validated protection of an operational endpoint: who may read it, and the answer to those
 * who may not. Shared by the Express and Koa endpoints.
 */
export class EndpointProtection<Request> {
  private readonly authorize: AuthorizeHook<Request> | undefined;
  private readonly denied: HttpAnswer;

  /** @throws TypeError naming an invalid option. */
  constructor(options: ProtectedEndpointOptions<Request> = {}) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError(`endpoint options must be an object, got ${String(options)}`);
    }
    const { authorize, deniedStatus = 403 } = options;
    if (authorize !== undefined && typeof authorize !== 'function') {
      throw new TypeError(`authorize must be a function, got ${String(authorize)}`);
    }
    if (deniedStatus !== 401 && deniedStatus !== 403) {
      throw new TypeError(`deniedStatus must be 401 or 403, got ${String(deniedStatus)}`);
    }
    this.authorize = authorize;
    this.denied = jsonAnswer(deniedStatus, {
      error: deniedStatus === 401 ? 'unauthorized' : 'forbidden',
    });
  }

  /**
   * `undefined` when `request` may read the endpoint, else the refusal to answer it with (which
   * says nothing more than its status). A hook that throws refuses and is reported through the
   * OpenTelemetry diag logger, never to the client.
   */
  async refusalFor(request: Request): Promise<HttpAnswer | undefined> {
    const authorize = this.authorize;
    if (authorize === undefined) return undefined;
    try {
      if ((await authorize(request)) === true) return undefined;
    } catch (error) {
      diag.warn('otel-resilience: an authorize hook threw; the request was refused', error);
    }
    return this.denied;
  }
}

/**
 * Validates an endpoint path: a string starting with `/` (or `null` for none, when `nullable`).
 * Trailing slashes are dropped, so `/health/` is served as `/health`.
 * @throws TypeError naming the option.
 */
export function checkEndpointPath(option: string, value: unknown, nullable: true): string | null;
export function checkEndpointPath(option: string, value: unknown, nullable?: false): string;
export function checkEndpointPath(option: string, value: unknown, nullable = false): string | null {
  if (value === null && nullable) return null;
  if (typeof value !== 'string' || !value.startsWith('/')) {
    const expected = nullable ? 'a path starting with "/" (or null)' : 'a path starting with "/"';
    throw new TypeError(`${option} must be ${expected}, got ${String(value)}`);
  }
  return withoutTrailingSlash(value);
}

/** `path` without a trailing slash (except the root). */
export const withoutTrailingSlash = (path: string): string =>
  path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;

/**
 * The `/health` and `/status` endpoints of a {@link HealthRegistry}, independent of the framework:
 * the adapters ask {@link endpointFor} whether a request is theirs and write {@link answer}'s
 * result.
 */
export class HealthEndpoints<Request> {
  private readonly healthPath: string | null;
  private readonly statusPath: string | null;
  private readonly protection: EndpointProtection<Request>;

  /** @throws TypeError naming an invalid option. */
  constructor(
    private readonly registry: HealthRegistry,
    options: HealthEndpointsOptions<Request> = {},
  ) {
    this.protection = new EndpointProtection(options);
    const { healthPath = '/health', statusPath = '/status' } = options;
    this.healthPath = checkEndpointPath('healthPath', healthPath, true);
    this.statusPath = checkEndpointPath('statusPath', statusPath, true);
  }

  /** Which endpoint a `GET`/`HEAD` of `path` is, if any (other requests are not served). */
  endpointFor(method: string | undefined, path: string): 'health' | 'status' | undefined {
    if (method !== 'GET' && method !== 'HEAD') return undefined;
    const normalized = withoutTrailingSlash(path);
    if (normalized === this.healthPath) return 'health';
    if (normalized === this.statusPath) return 'status';
    return undefined;
  }

  /** The answer to `request` for `endpoint`: the refusal, the readiness or the whole report. */
  async answer(endpoint: 'health' | 'status', request: Request): Promise<HttpAnswer> {
    const refusal = await this.protection.refusalFor(request);
    if (refusal !== undefined) return refusal;
    const report = await this.registry.report();
    return endpoint === 'status'
      ? jsonAnswer(200, report)
      : jsonAnswer(report.ready ? 200 : 503, { status: report.status, ready: report.ready });
  }
}
