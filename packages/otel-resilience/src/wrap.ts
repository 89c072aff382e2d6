import type { CallContext, PolicyFunction } from './ExecuteContext.js';
import { type Policy, PolicyBase, type PolicyOptions, RUN } from './Policy.js';

/** Options of a pipeline made by {@link wrap}. */
export type PipelineOptions = Pick<PolicyOptions, 'name' | 'classifier' | 'attributes'>;

/**
 * Policies run one inside the other as one logical call: `wrap(a, b, c).execute(fn)` runs
 * `a(b(c(fn)))`. The pipeline's name labels the call span and `resilience.call.duration`; each
 * policy keeps its own name on what it reports (breaker transitions, timeouts, ...).
 */
export class PipelinePolicy extends PolicyBase {
  readonly policies: readonly Policy[];

  constructor(policies: readonly Policy[], options: PipelineOptions = {}) {
    super(options, 'pipeline');
    if (policies.length === 0) throw new TypeError('wrap() needs at least one policy, got none');
    policies.forEach((policy, index) => {
      if (typeof policy !== 'object' || policy === null || typeof policy[RUN] !== 'function') {
        throw new TypeError(`wrap() argument ${index + 1} is not a policy, got ${String(policy)}`);
      }
    });
    this.policies = [...policies];
  }

  /** @internal */
  [RUN]<T>(fn: PolicyFunction<T>, ctx: CallContext): Promise<T> {
    return this.runFrom(0, fn, ctx);
  }

  private runFrom<T>(index: number, fn: PolicyFunction<T>, ctx: CallContext): Promise<T> {
    const policy = this.policies[index]!;
    if (index === this.policies.length - 1) return policy[RUN](fn, ctx);
    // Every context a policy hands on is the CallContext it derived from ours.
    return policy[RUN]((inner) => this.runFrom(index + 1, fn, inner as CallContext), ctx);
  }
}

/**
 * Composes policies, outermost first: `wrap(a, b, c).execute(fn)` runs `a(b(c(fn)))`. The usual
 * order is `wrap(fallback, bulkhead, retry, circuitBreaker, timeout)`: the timeout bounds each
 * attempt, the breaker sees (and may refuse) every attempt, the retry spaces them out, the
 * bulkhead limits concurrent calls as a whole, and the fallback answers when all else failed.
 * Pass an options object first to name the pipeline: `wrap({ name: 'payments' }, retry, breaker)`.
 */
export function wrap(...policies: Policy[]): PipelinePolicy;
export function wrap(options: PipelineOptions, ...policies: Policy[]): PipelinePolicy;
export function wrap(...args: Array<Policy | PipelineOptions>): PipelinePolicy {
  const first = args[0];
  if (first !== undefined && typeof first === 'object' && !(RUN in first)) {
    return new PipelinePolicy(args.slice(1) as Policy[], first as PipelineOptions);
  }
  return new PipelinePolicy(args as Policy[]);
}
