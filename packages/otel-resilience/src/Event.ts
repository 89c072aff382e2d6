import { diag } from '@opentelemetry/api';
import type { Disposable } from './Disposable.js';

/**
 * A typed event: call it with a listener to subscribe; the returned {@link Disposable}
 * unsubscribes. A listener that throws is reported through the OpenTelemetry diag logger and never
 * breaks the call it observes.
 */
export type Event<T> = (listener: (value: T) => void) => Disposable;

/** A listener list behind an {@link Event}. Internal building block of every policy. */
export class EventEmitter<T> {
  // Copy-on-write so that a listener that unsubscribes while being called does not skip others.
  private listeners: ReadonlyArray<(value: T) => void> = [];

  /** The public subscription function. */
  readonly event: Event<T> = (listener) => {
    this.listeners = [...this.listeners, listener];
    let disposed = false;
    return {
      dispose: () => {
        if (disposed) return;
        disposed = true;
        this.listeners = this.listeners.filter((l) => l !== listener);
      },
    };
  };

  /** Whether anyone listens; lets callers skip building an event payload nobody reads. */
  get hasListeners(): boolean {
    return this.listeners.length > 0;
  }

  /** Calls every listener with `value`, isolating the caller from listener exceptions. */
  emit(value: T): void {
    const listeners = this.listeners;
    for (let i = 0; i < listeners.length; i++) {
      invokeSafely(listeners[i]!, value);
    }
  }
}

/**
 * Runs a user-supplied hook, reporting (not propagating) anything it throws. Used for every
 * listener and hook so that observing a call can never change its outcome.
 */
export function invokeSafely<A, R>(hook: (arg: A) => R, arg: A): R | undefined {
  try {
    return hook(arg);
  } catch (error) {
    diag.error('otel-resilience: a user hook or event listener threw; the call continues', error);
    return undefined;
  }
}
