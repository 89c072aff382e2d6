import { type Span, trace } from '@opentelemetry/api';
import type {
  AxiosAdapter,
  AxiosInstance,
  AxiosRequestConfig,
  AxiosResponse,
  InternalAxiosRequestConfig,
} from 'axios';
import { getAdapter } from 'axios';
import {
  BoundedLabels,
  type CircuitBreakerPolicy,
  currentDeadlineScope,
  deadlineScopeWithin,
  type ExecuteContext,
  httpMethodLabel,
  isTimeoutExceededError,
  RetryBudget,
} from 'otel-resilience';
import { AxiosClassifier } from './AxiosClassifier.js';
import { AttemptSignal, isBuiltInAdapter } from './attemptSignal.js';
import { annotateAttempt, annotateStatus } from './attemptTelemetry.js';
import { isAxiosErrorLike } from './axiosErrorRules.js';
import { callerSignal } from './callerSignal.js';
import { HostPolicies } from './HostPolicies.js';
import { hasHeader, isReplayable } from './idempotency.js';
import { LruMap } from './LruMap.js';
import { type AxiosResilienceOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { checkRequestConfig, type ResilienceRequestConfig } from './requestConfig.js';
import { ATTR_SERVER_ADDRESS } from './semconv.js';
import { requestTarget, type Target } from './target.js';

type AdapterSetting = AxiosRequestConfig['adapter'];

/** Marks the adapter a request was given by the interceptor, and remembers the one it replaced. */
const ORIGINAL = Symbol('otel-resilience-axios.original-adapter');
type ResilientAdapter = AxiosAdapter & { readonly [ORIGINAL]: AdapterSetting };

/** Instances with an attachment, so that attaching twice fails loudly. */
const attachedInstances = new WeakSet<object>();

/** One circuit breaker of an attached instance, for health endpoints and dashboards. */
export interface BreakerEntry {
  /** The breaker key: `host[:port]`, or a request's `resilience.breakerKey`. */
  readonly key: string;
  /** The breaker: `state`, `isolate()`, `reset()`, `onStateChange`, ... */
  readonly breaker: CircuitBreakerPolicy;
}

/** What {@link attachResilience} returns. */
export interface AxiosResilience {
  /** `resilience.name` of this instance's policies. */
  readonly name: string;
  /**
   * The instance's classifier: `classifier.addRule(rule)` adds a rule tried before the adapter's
   * Axios rules (and before the fallback classifier).
   */
  readonly classifier: AxiosClassifier;
  /**
   * The instance's own retry budget, used when the deadline scope has none; `undefined` when the
   * `budget` option was given (a budget or `null`). Made (and its `resilience.retry_budget.tokens`
   * series with it) the first time a request runs outside any scope with a budget, or when this
   * is read: an instance used only inside the inbound middleware's scope never shows a budget
   * that nothing draws on.
   */
  readonly budget: RetryBudget | undefined;
  /** The breakers alive now, least recently used first. */
  breakers(): BreakerEntry[];
  /**
   * Removes the interceptor, disposes every breaker and the own budget's gauge. Requests already
   * under way finish with their policies; later ones are sent as without this package.
   */
  detach(): void;
}

/**
 * Adds retries, a circuit breaker per upstream host, a per-attempt timeout, a retry budget and an
 * overall deadline to an Axios instance, every decision taken by the otel-resilience engine.
 *
 * A request interceptor replaces the request's adapter by one that runs each attempt through one
 * engine pipeline, `wrap(retry, breakerOfHost, timeout)`, handing the attempt's abort signal to
 * the original adapter: the other request interceptors, the request transform, the response
 * transform and the response interceptors run once per request, not once per attempt.
 *
 * @throws TypeError naming the option when an option is invalid, or when the instance already has
 * an attachment.
 * @example
 * const api = axios.create({ baseURL: 'https://api.example.com' });
 * const resilience = attachResilience(api, { name: 'example-api', timeoutMs: 5_000 });
 * await api.get('/users/42', { resilience: { routeTemplate: '/users/{id}' } });
 */
export function attachResilience(
  instance: AxiosInstance,
  options?: AxiosResilienceOptions,
): AxiosResilience {
  if (
    (typeof instance !== 'function' && typeof instance !== 'object') ||
    instance === null ||
    typeof instance.interceptors?.request?.use !== 'function' ||
    typeof instance.getUri !== 'function'
  ) {
    throw new TypeError(`instance must be an Axios instance, got ${String(instance)}`);
  }
  if (attachedInstances.has(instance)) {
    throw new TypeError('instance already has otel-resilience-axios attached: detach() it first');
  }
  const attachment = new Attachment(instance, resolveOptions(options));
  attachedInstances.add(instance);
  return attachment;
}

class Attachment implements AxiosResilience {
  readonly name: string;
  readonly classifier: AxiosClassifier;
  private ownBudget: RetryBudget | undefined;
  private readonly hosts: LruMap<string, HostPolicies>;
  private readonly labels: BoundedLabels;
  private readonly interceptorId: number;
  private detached = false;

  constructor(
    private readonly instance: AxiosInstance,
    private readonly options: ResolvedOptions,
  ) {
    this.name = options.name;
    this.classifier = new AxiosClassifier(options.classifier);
    checkPolicyOptions(options, this.classifier);
    this.hosts = new LruMap(options.maxHosts, (_key, policies) => policies.dispose());
    this.labels = new BoundedLabels(options.maxHosts);
    this.interceptorId = instance.interceptors.request.use(
      (config) => {
        if (config.resilience !== false) config.adapter = this.adapterFor(config.adapter);
        return config;
      },
      undefined,
      { synchronous: true },
    );
  }

  get budget(): RetryBudget | undefined {
    if (this.options.budget !== undefined || this.detached) return this.ownBudget;
    this.ownBudget ??= new RetryBudget({ name: this.name });
    return this.ownBudget;
  }

  breakers(): BreakerEntry[] {
    const entries: BreakerEntry[] = [];
    for (const [, policies] of this.hosts.entries()) {
      if (policies.breaker !== undefined) {
        entries.push({ key: policies.key, breaker: policies.breaker });
      }
    }
    return entries;
  }

  detach(): void {
    if (this.detached) return;
    this.detached = true;
    this.instance.interceptors.request.eject(this.interceptorId);
    this.hosts.clear();
    this.ownBudget?.dispose();
    attachedInstances.delete(this.instance);
  }

  /** A resilient adapter around `adapter` (unwrapping one of ours: a config sent again). */
  private adapterFor(adapter: AdapterSetting): ResilientAdapter {
    const original =
      typeof adapter === 'function' && ORIGINAL in adapter
        ? (adapter as ResilientAdapter)[ORIGINAL]
        : adapter;
    const resilient = (config: InternalAxiosRequestConfig) => this.send(original, config);
    return Object.assign(resilient, { [ORIGINAL]: original });
  }

  /** Sends one request: every attempt through the pipeline of its breaker key. */
  private async send(
    original: AdapterSetting,
    config: InternalAxiosRequestConfig,
  ): Promise<AxiosResponse> {
    // The config the caller sees (response.config, error.config) names its own adapter again,
    // so sending it once more is wrapped once, not twice.
    config.adapter = original;
    const adapter = getAdapter(original, config);
    if (this.detached || config.resilience === false) return adapter(config);
    const request = checkRequestConfig(config.resilience);
    const target = requestTarget(config);
    if (target === undefined) return adapter(config);

    const verb = (config.method ?? 'get').toUpperCase();
    const method = httpMethodLabel(verb);
    const idempotent =
      request.idempotent ??
      (this.options.idempotentMethods.has(verb) ||
        (this.options.idempotencyKeyHeader !== false &&
          hasHeader(config.headers, this.options.idempotencyKeyHeader)));
    const maxAttempts = !isReplayable(config.data)
      ? 1
      : request.retry === false
        ? 1
        : request.retry?.maxAttempts;
    const pipeline = this.policiesFor(request, target).pipeline(maxAttempts, idempotent);

    const scope = currentDeadlineScope();
    const ownSignal = config.signal;
    const cancel = callerSignal(config, scope?.signal);
    const outerSpan = trace.getActiveSpan();
    const lightSignal = isBuiltInAdapter(original);
    const attempt = async (ctx: ExecuteContext): Promise<AxiosResponse> => {
      const span = attemptSpan(outerSpan);
      if (span !== undefined) {
        annotateAttempt(span, target, method, request.routeTemplate, ctx.attempt);
      }
      const signal = lightSignal ? new AttemptSignal(ctx) : undefined;
      // Attempts run one after another, so they share the request's config (copying it costs
      // microseconds): each puts its own signal on it, and the caller's is put back at the end.
      config.signal = signal ?? ctx.signal;
      try {
        const response = await adapter(config);
        if (span !== undefined) annotateStatus(span, response.status);
        return response;
      } catch (error) {
        if (span !== undefined && isAxiosErrorLike(error)) {
          annotateStatus(span, error.response?.status);
        }
        throw error;
      } finally {
        signal?.release();
      }
    };
    const timeoutMs = request.timeoutMs ?? this.options.timeoutMs;
    // The inbound request's budget when its middleware set one, else this instance's. Passed as
    // the call's scope rather than entered (runWithDeadline): nothing below needs to see it.
    const retryBudget = scope?.retryBudget === undefined ? this.budget : undefined;
    const callScope =
      timeoutMs === undefined && retryBudget === undefined
        ? scope
        : deadlineScopeWithin({
            ...(timeoutMs === undefined ? {} : { timeoutMs }),
            ...(retryBudget === undefined ? {} : { retryBudget }),
          });
    try {
      return await pipeline.execute(attempt, { signal: cancel.signal, scope: callScope });
    } catch (error) {
      throw withoutRequestDetails(error);
    } finally {
      config.signal = ownSignal;
      cancel.release();
    }
  }

  private policiesFor(request: ResilienceRequestConfig, target: Target): HostPolicies {
    const custom = request.breakerKey;
    // Prefixed so that a chosen key can never collide with a host's.
    const key = custom === undefined ? target.key : `key:${custom}`;
    let policies = this.hosts.get(key);
    if (policies === undefined) {
      policies =
        custom === undefined
          ? new HostPolicies(
              target.key,
              this.options.name,
              { [ATTR_SERVER_ADDRESS]: this.labels.label(target.hostname) },
              this.options,
              this.classifier,
            )
          : new HostPolicies(custom, this.labels.label(custom), {}, this.options, this.classifier);
      this.hosts.set(key, policies);
    }
    return policies;
  }
}

/**
 * The span an attempt runs in, when it is the engine's attempt span: with a sampler that drops
 * the call, the active span is the caller's, which must not get the attempt's attributes.
 */
function attemptSpan(outerSpan: Span | undefined): Span | undefined {
  const span = trace.getActiveSpan();
  return span !== undefined && span !== outerSpan && span.isRecording() ? span : undefined;
}

/**
 * A timeout's `TimeoutExceededError` carries, as `cause`, the `CanceledError` its abort produced —
 * and with it the request config: URL, query string and headers (Authorization, Cookie). That
 * cause says nothing the timeout does not, so it is dropped before the error reaches the caller.
 */
function withoutRequestDetails(error: unknown): unknown {
  if (isTimeoutExceededError(error) && isAxiosErrorLike(error.cause)) {
    delete (error as { cause?: unknown }).cause;
  }
  return error;
}

/** Builds the policies once so that bad engine options throw now, named after their group. */
function checkPolicyOptions(options: ResolvedOptions, classifier: AxiosClassifier): void {
  let probe: HostPolicies;
  try {
    probe = new HostPolicies('probe', options.name, {}, options, classifier);
  } catch (error) {
    throw prefixed('circuitBreaker', error);
  }
  try {
    probe.pipeline(undefined, true);
  } catch (error) {
    throw prefixed('retry', error);
  } finally {
    probe.dispose();
  }
}

function prefixed(group: string, error: unknown): unknown {
  return error instanceof TypeError ? new TypeError(`${group}.${error.message}`) : error;
}
