import { diag } from '@opentelemetry/api';
import {
  type Classification,
  type ClassificationMatch,
  type ClassificationRule,
  Classifier,
  causeChain,
  DEFAULT_RETRYABLE,
  type Disposable,
  defaultClassifier,
  errorTypeOf,
  retryAfterHintOf,
} from 'otel-resilience';
import { AXIOS_RULES } from './axiosErrorRules.js';

/**
 * The classifier of one attached Axios instance. Its rules — those added with {@link addRule}
 * (newest first), then the adapter's Axios rules — are tried on every error of the `cause` chain;
 * when none matches, the `fallback` classifier decides (default `defaultClassifier`, so rules an
 * application registered there, and the engine's built-in HTTP-status, Retry-After and
 * network-code rules, still apply). The global `defaultClassifier` is never modified.
 */
export class AxiosClassifier extends Classifier {
  private ownRules: readonly ClassificationRule[];

  constructor(
    /** Decides what no rule of this classifier matched. Default `defaultClassifier`. */
    readonly fallback: Classifier = defaultClassifier,
  ) {
    super({ builtinRules: false });
    this.ownRules = AXIOS_RULES;
  }

  /**
   * Adds a rule tried before every rule added earlier and before the adapter's Axios rules;
   * dispose the result to remove it.
   */
  override addRule(rule: ClassificationRule): Disposable {
    if (typeof rule !== 'function') {
      throw new TypeError(`rule must be a function, got ${String(rule)}`);
    }
    this.ownRules = [rule, ...this.ownRules];
    return {
      dispose: () => {
        this.ownRules = this.ownRules.filter((r) => r !== rule);
      },
    };
  }

  /** Classifies `error`. Never throws. */
  override classify(error: unknown): Classification {
    for (const candidate of causeChain(error)) {
      for (const rule of this.ownRules) {
        const match = tryRule(rule, candidate);
        if (match !== undefined) return fromMatch(match, candidate);
      }
    }
    return this.fallback.classify(error);
  }
}

function tryRule(rule: ClassificationRule, error: unknown): ClassificationMatch | undefined {
  try {
    return rule(error) ?? undefined;
  } catch (thrown) {
    diag.warn('otel-resilience-axios: a classification rule threw; treated as no match', thrown);
    return undefined;
  }
}

function fromMatch(match: ClassificationMatch, matched: unknown): Classification {
  const retryAfterMs = match.retryAfterMs ?? retryAfterHintOf(matched);
  const classification: Classification = {
    category: match.category,
    retryable: match.retryable ?? DEFAULT_RETRYABLE[match.category],
    errorType: match.errorType ?? errorTypeOf(matched),
  };
  return retryAfterMs === undefined ? classification : { ...classification, retryAfterMs };
}
