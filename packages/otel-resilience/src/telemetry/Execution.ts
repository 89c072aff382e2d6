import { type Attributes, type Span, SpanStatusCode } from '@opentelemetry/api';
import type { Classification } from '../classification/Classification.js';
import type { Classifier } from '../classification/Classifier.js';
import { monotonicNow } from '../clock.js';
import type { DeadlineScope } from '../DeadlineContext.js';
import {
  ATTR_ATTEMPTS,
  ATTR_ERROR_CATEGORY,
  ATTR_ERROR_TYPE,
  ATTR_RESILIENCE_OUTCOME,
  type CallOutcome,
} from './attributes.js';
import { recordDuration } from './durations.js';
import type { BoundInstruments } from './metrics.js';
import type { PolicyTelemetry } from './PolicyTelemetry.js';

/**
 * One logical call through a policy or pipeline: its span, its start time and what it has
 * recorded so far. Created by the outermost policy; inner policies add span events to it and the
 * retry policy records each attempt on it.
 * @internal
 */
export class Execution {
  /** Attempts recorded by a retry policy; 0 when the pipeline has none (one implicit attempt). */
  attempts = 0;
  private lastError: unknown;
  private lastClassifier: Classifier | undefined;
  private successfulAttemptStartMs: number | undefined;
  private lastClassification: Classification | undefined;

  constructor(
    readonly telemetry: PolicyTelemetry,
    /** The call span, only when it is recording (so every `span?.` below is free otherwise). */
    readonly span: Span | undefined,
    readonly instruments: BoundInstruments,
    /** Whether anything consumes durations; when false no clock is read. */
    readonly timed: boolean,
    readonly startMs: number,
    /** The deadline scope the call works within (its deadline, signal and retry budget). */
    readonly scope: DeadlineScope | undefined,
  ) {}

  /** Adds a span event to the call span when it records. */
  addEvent(name: string, attributes?: Attributes): void {
    this.span?.addEvent(name, attributes);
  }

  /**
   * Classifies `error` once per call and classifier: the retry policy classifies with its own
   * classifier, and the call's end reuses that result for the same error.
   */
  classify(error: unknown, classifier: Classifier = this.telemetry.classifier): Classification {
    if (
      this.lastClassification === undefined ||
      this.lastError !== error ||
      this.lastClassifier !== classifier
    ) {
      this.lastError = error;
      this.lastClassifier = classifier;
      this.lastClassification = classifier.classify(error);
    }
    return this.lastClassification;
  }

  /** Records one attempt that started at `startMs` and ended now. */
  recordAttempt(startMs: number, error: unknown, failed: boolean): void {
    this.attempts++;
    if (!this.timed) return;
    if (!failed) {
      // A successful attempt ends the call: finish() records it with the call's end time, which
      // saves a clock reading on the path every call takes.
      this.successfulAttemptStartMs = startMs;
      return;
    }
    recordDuration(
      'attemptDuration',
      (monotonicNow() - startMs) / 1000,
      this.telemetry.outcomeAttributesFor('failure', this.classify(error)),
      this.instruments,
    );
  }

  /** Records the end of the call. */
  finish(error: unknown, failed: boolean): void {
    const endMs = monotonicNow();
    const durationS = (endMs - this.startMs) / 1000;
    const classification = failed ? this.classify(error) : undefined;
    const outcome: CallOutcome = failed
      ? 'failure'
      : this.attempts > 1
        ? 'success_after_retry'
        : 'success';
    const telemetry = this.telemetry;
    recordDuration(
      'callDuration',
      durationS,
      telemetry.outcomeAttributesFor(outcome, classification),
      this.instruments,
    );
    if (this.attempts === 0) {
      recordDuration(
        'attemptDuration',
        durationS,
        telemetry.outcomeAttributesFor(failed ? 'failure' : 'success', classification),
        this.instruments,
      );
    } else if (this.successfulAttemptStartMs !== undefined) {
      recordDuration(
        'attemptDuration',
        (endMs - this.successfulAttemptStartMs) / 1000,
        telemetry.outcomeAttributesFor('success'),
        this.instruments,
      );
    }
    const span = this.span;
    if (span === undefined) return;
    span.setAttribute(ATTR_RESILIENCE_OUTCOME, outcome);
    span.setAttribute(ATTR_ATTEMPTS, Math.max(1, this.attempts));
    if (classification !== undefined) {
      // No message and no recordException(): messages carry URLs, SQL values and tokens.
      span.setAttribute(ATTR_ERROR_TYPE, classification.errorType);
      span.setAttribute(ATTR_ERROR_CATEGORY, classification.category);
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  }
}
