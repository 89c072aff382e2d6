import type { Disposable } from '../Disposable.js';
import { invokeSafely } from '../Event.js';
import { BUILTIN_RULES } from './builtinRules.js';
import type {
  Classification,
  ClassificationMatch,
  ClassificationRule,
  ErrorCategory,
} from './Classification.js';
import { causeChain } from './causeChain.js';
import { errorTypeOf } from './errorType.js';
import { retryAfterHintOf } from './retryAfter.js';

/**
 * Whether each category is retried when no rule says otherwise — DESIGN.md's decision matrix
 * (seeds 002 and 003): configuration and data failures need a human or new input; everything else
 * may pass on its own.
 */
export const DEFAULT_RETRYABLE: Readonly<Record<ErrorCategory, boolean>> = {
  transient: true,
  rate_limited: true,
  timeout: true,
  system: true,
  unknown: true,
  configuration: false,
  data: false,
};

/** Options of a {@link Classifier}. */
export interface ClassifierOptions {
  /** Rules consulted before the built-in ones, first to last. Default: none. */
  readonly rules?: readonly ClassificationRule[];
  /** Overrides of {@link DEFAULT_RETRYABLE} for categories whose rule does not decide. */
  readonly retryable?: Partial<Record<ErrorCategory, boolean>>;
  /** Whether the built-in rules (network codes, HTTP statuses, own errors) apply. Default `true`. */
  readonly builtinRules?: boolean;
  /**
   * Decides what none of this classifier's rules matched, instead of `unknown`: an adapter's
   * classifier passes {@link defaultClassifier}, so rules an application registered there (and
   * the built-ins) still apply, while the global classifier is never modified. Default: none.
   */
  readonly fallback?: Classifier;
}

/**
 * Turns any thrown value into a {@link Classification}. Rules are tried against each error of the
 * `cause` chain, outermost first; rules added later (adapters, then users) are consulted before
 * earlier ones and before the built-ins, so they can override them. Errors wrapped by a library
 * that drops the code (a failed ROLLBACK hiding the SQLSTATE that caused it) are still classified
 * by their cause.
 */
export class Classifier {
  private rules: readonly ClassificationRule[];
  private readonly retryableByCategory: Readonly<Record<ErrorCategory, boolean>>;
  private readonly builtins: readonly ClassificationRule[];
  /** Decides what no rule of this classifier matched; see {@link ClassifierOptions.fallback}. */
  readonly fallback: Classifier | undefined;

  constructor(options: ClassifierOptions = {}) {
    this.rules = [...(options.rules ?? [])];
    this.retryableByCategory = { ...DEFAULT_RETRYABLE, ...options.retryable };
    this.builtins = options.builtinRules === false ? [] : BUILTIN_RULES;
    if (options.fallback !== undefined && !(options.fallback instanceof Classifier)) {
      throw new TypeError(`fallback must be a Classifier, got ${String(options.fallback)}`);
    }
    this.fallback = options.fallback;
  }

  /**
   * Adds a rule consulted before every rule added earlier and before the built-ins.
   * Dispose the result to remove it again.
   */
  addRule(rule: ClassificationRule): Disposable {
    if (typeof rule !== 'function') {
      throw new TypeError(`rule must be a function, got ${String(rule)}`);
    }
    this.rules = [rule, ...this.rules];
    return {
      dispose: () => {
        this.rules = this.rules.filter((r) => r !== rule);
      },
    };
  }

  /** Classifies `error` (any thrown value). Never throws. */
  classify(error: unknown): Classification {
    const chain = causeChain(error);
    const found = this.match(this.rules, chain) ?? this.match(this.builtins, chain);
    if (found === undefined) {
      if (this.fallback !== undefined) return this.fallback.classify(error);
      const retryAfterMs = retryAfterHintOf(error);
      return build('unknown', this.retryableByCategory.unknown, errorTypeOf(error), retryAfterMs);
    }
    const [match, matched] = found;
    return build(
      match.category,
      match.retryable ?? this.retryableByCategory[match.category] ?? true,
      match.errorType ?? errorTypeOf(matched),
      match.retryAfterMs ?? retryAfterHintOf(matched),
    );
  }

  private match(
    rules: readonly ClassificationRule[],
    chain: readonly unknown[],
  ): [ClassificationMatch, unknown] | undefined {
    for (const candidate of chain) {
      for (const rule of rules) {
        const match = invokeSafely(rule, candidate);
        if (match !== undefined && match !== null) return [match, candidate];
      }
    }
    return undefined;
  }
}

function build(
  category: ErrorCategory,
  retryable: boolean,
  errorType: string,
  retryAfterMs: number | undefined,
): Classification {
  return retryAfterMs === undefined
    ? { category, retryable, errorType }
    : { category, retryable, errorType, retryAfterMs };
}

/** The classifier used when a policy is not given one. Adapters register their rules on it. */
export const defaultClassifier = new Classifier();
