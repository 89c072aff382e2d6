import { type Attributes, SpanKind, type SpanOptions } from '@opentelemetry/api';
import type { Classification } from '../classification/Classification.js';
import type { Classifier } from '../classification/Classifier.js';
import {
  ATTR_ERROR_CATEGORY,
  ATTR_ERROR_TYPE,
  ATTR_RESILIENCE_NAME,
  ATTR_RESILIENCE_OUTCOME,
} from './attributes.js';
import type { ObservedKey } from './catalogue.js';
import { type Series, series } from './metrics.js';

/**
 * The telemetry identity of one policy: its name, the classifier that names its errors, and
 * cached attribute sets and series so the hot path allocates nothing.
 * @internal
 */
export class PolicyTelemetry {
  readonly callSpanName: string;
  readonly attemptSpanName: string;
  /** Options of the call and attempt spans: INTERNAL, with `resilience.name`. */
  readonly spanOptions: SpanOptions;
  private readonly outcomeAttributes = new Map<string, Attributes>();
  private readonly seriesCache = new Map<string, Series>();

  constructor(
    /** The user-chosen name reported as `resilience.name`. */
    readonly name: string,
    readonly classifier: Classifier,
    /** Constant attributes on every span and series of this policy (already validated). */
    readonly attributes?: Readonly<Record<string, string>>,
  ) {
    this.callSpanName = `resilience ${name}`;
    this.attemptSpanName = `resilience ${name} attempt`;
    this.spanOptions = Object.freeze({
      kind: SpanKind.INTERNAL,
      attributes: Object.freeze({ [ATTR_RESILIENCE_NAME]: name, ...attributes }),
    });
  }

  /** Attributes of a call or attempt duration with this outcome (and failure classification). */
  outcomeAttributesFor(outcome: string, failure?: Classification): Attributes {
    const id =
      failure === undefined ? outcome : `${outcome}|${failure.errorType}|${failure.category}`;
    let attributes = this.outcomeAttributes.get(id);
    if (attributes === undefined) {
      attributes =
        failure === undefined
          ? {
              ...this.attributes,
              [ATTR_RESILIENCE_NAME]: this.name,
              [ATTR_RESILIENCE_OUTCOME]: outcome,
            }
          : {
              ...this.attributes,
              [ATTR_RESILIENCE_NAME]: this.name,
              [ATTR_RESILIENCE_OUTCOME]: outcome,
              [ATTR_ERROR_TYPE]: failure.errorType,
              [ATTR_ERROR_CATEGORY]: failure.category,
            };
      this.outcomeAttributes.set(id, Object.freeze(attributes));
    }
    return attributes;
  }

  /**
   * The series of counter/gauge `key` for this policy with extra attributes (values must be
   * bounded). Cached per policy, shared process-wide by name.
   */
  series(key: ObservedKey, extra?: Readonly<Record<string, string>>): Series {
    const id = extra === undefined ? key : `${key}|${Object.values(extra).join('|')}`;
    let found = this.seriesCache.get(id);
    if (found === undefined) {
      found = series(key, { ...this.attributes, [ATTR_RESILIENCE_NAME]: this.name, ...extra });
      this.seriesCache.set(id, found);
    }
    return found;
  }

  /** Adds 1 to counter `key`. */
  count(key: ObservedKey, extra?: Readonly<Record<string, string>>): void {
    this.series(key, extra).value++;
  }
}
