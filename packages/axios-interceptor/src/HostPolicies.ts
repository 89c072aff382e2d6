import {
  type CategoryStrategy,
  type CircuitBreakerPolicy,
  type Classifier,
  circuitBreaker,
  type ErrorCategory,
  type PipelinePolicy,
  type Policy,
  type RetryOptions,
  retry,
  type TimeoutPolicy,
  timeout,
  wrap,
} from 'otel-resilience';
import { neverSent } from './idempotency.js';
import type { ResolvedOptions } from './options.js';

/** Retry variants kept per host (default and non-idempotent, plus per-request attempt counts). */
const MAX_VARIANTS = 8;

/**
 * The policies of one breaker key (a host, or a key chosen per request): its circuit breaker, its
 * per-attempt timeout and the pipelines `wrap(retry, breaker, timeout)` built on them, one per retry
 * variant. Every policy carries the same constant attributes (`server.address` for host keys).
 */
export class HostPolicies {
  /** The key's breaker; `undefined` when breakers are disabled. */
  readonly breaker: CircuitBreakerPolicy | undefined;
  private readonly timeout: TimeoutPolicy;
  /** Pipelines of requests that set their own `maxAttempts`, by attempts and idempotency. */
  private readonly pipelines = new Map<string, PipelinePolicy>();
  /** The pipelines of every other request: idempotent or not. */
  private idempotentPipeline: PipelinePolicy | undefined;
  private otherPipeline: PipelinePolicy | undefined;

  constructor(
    /** The breaker key: `host[:port]` or a request's `breakerKey`. */
    readonly key: string,
    /** The breaker's `resilience.name`. */
    readonly breakerName: string,
    /** Constant attributes of every policy of this key. */
    readonly attributes: Readonly<Record<string, string>>,
    private readonly options: ResolvedOptions,
    private readonly classifier: Classifier,
  ) {
    const common = { classifier, attributes };
    this.breaker =
      options.circuitBreaker === false
        ? undefined
        : circuitBreaker({ ...options.circuitBreaker, ...common, name: breakerName });
    this.timeout = timeout(options.attemptTimeoutMs, { ...common, name: options.name });
  }

  /**
   * The pipeline for requests allowed `maxAttempts` attempts (`undefined`: the instance's retry
   * options) that are (or are not) idempotent.
   */
  pipeline(maxAttempts: number | undefined, idempotent: boolean): PipelinePolicy {
    if (maxAttempts === undefined) {
      // Most requests: the instance's retry options, found without building a key.
      let pipeline = idempotent ? this.idempotentPipeline : this.otherPipeline;
      if (pipeline === undefined) {
        pipeline = this.build(undefined, idempotent);
        if (idempotent) this.idempotentPipeline = pipeline;
        else this.otherPipeline = pipeline;
      }
      return pipeline;
    }
    const id = `${maxAttempts}|${idempotent ? 'i' : 'n'}`;
    let pipeline = this.pipelines.get(id);
    if (pipeline === undefined) {
      if (this.pipelines.size >= MAX_VARIANTS) {
        this.pipelines.delete(this.pipelines.keys().next().value as string);
      }
      pipeline = this.build(maxAttempts, idempotent);
      this.pipelines.set(id, pipeline);
    }
    return pipeline;
  }

  private build(maxAttempts: number | undefined, idempotent: boolean): PipelinePolicy {
    const policies: Policy[] = [this.retryPolicy(maxAttempts, idempotent)];
    if (this.breaker !== undefined) policies.push(this.breaker);
    policies.push(this.timeout);
    return wrap(
      { name: this.options.name, classifier: this.classifier, attributes: this.attributes },
      ...policies,
    );
  }

  /** Removes the breaker from the state gauge; calls still running finish normally. */
  dispose(): void {
    this.breaker?.dispose();
  }

  private retryPolicy(maxAttempts: number | undefined, idempotent: boolean) {
    const base: RetryOptions =
      this.options.retry === false ? { maxAttempts: 1 } : this.options.retry;
    const userRetryOn = base.retryOn;
    return retry({
      ...base,
      name: this.options.name,
      classifier: this.classifier,
      attributes: this.attributes,
      ...(this.options.budget === undefined ? {} : { budget: this.options.budget }),
      ...(maxAttempts === undefined
        ? {}
        : { maxAttempts, strategies: withoutMaxAttempts(base.strategies) }),
      // A non-idempotent request is retried only when it provably never reached the server.
      ...(idempotent
        ? {}
        : {
            retryOn: (error, classification) =>
              neverSent(error) ? userRetryOn?.(error, classification) : false,
          }),
    });
  }
}

/** `strategies` without per-category attempt counts: a request's own `maxAttempts` wins. */
function withoutMaxAttempts(
  strategies: RetryOptions['strategies'],
): Partial<Record<ErrorCategory, CategoryStrategy>> | undefined {
  if (strategies === undefined) return undefined;
  const result: Partial<Record<ErrorCategory, CategoryStrategy>> = {};
  for (const [category, strategy] of Object.entries(strategies)) {
    if (strategy === undefined) continue;
    const { maxAttempts: _ignored, ...rest } = strategy;
    result[category as ErrorCategory] = rest;
  }
  return result;
}
