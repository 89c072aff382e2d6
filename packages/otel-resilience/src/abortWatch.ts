import { diag } from '@opentelemetry/api';

/** Told when a watched signal aborts; see {@link watchAbort}. @internal */
export interface AbortListener {
  /** Called once, synchronously, while the signal dispatches its `abort` event. */
  handleAbort(): void;
}

/**
 * The listeners of every watched signal. Weak keys: a signal that becomes garbage takes its set
 * with it, even if nobody unwatched it. Insertion-ordered, so listeners are told in the order they
 * were added, as the signal would call its own listeners.
 */
const watched = new WeakMap<AbortSignal, Set<AbortListener>>();

/** The `abort` event fires once, and the shared listener goes with it. */
const ONCE = { once: true };

/**
 * Tells `listener` when `signal` aborts, until {@link unwatchAbort}. Every listener of one signal
 * shares a single `abort` event listener, the same function for every signal: a wait that must
 * stop on abort then costs a set entry rather than an EventTarget listener and a closure, which
 * matters when thousands of calls wait on one caller signal. O(1).
 *
 * Returns false, registering nothing, when `signal` has already aborted: its `abort` event will
 * not fire again. Adding a listener that is already watching `signal` changes nothing.
 * @internal
 */
export function watchAbort(signal: AbortSignal, listener: AbortListener): boolean {
  if (signal.aborted) return false;
  let listeners = watched.get(signal);
  if (listeners === undefined) {
    listeners = new Set();
    watched.set(signal, listeners);
    signal.addEventListener('abort', dispatch, ONCE);
  }
  listeners.add(listener);
  return true;
}

/**
 * Stops telling `listener` about `signal`; a no-op when it is not watching. The signal's `abort`
 * listener goes with the last watcher, so a long-lived signal keeps nothing of finished waits.
 * O(1).
 * @internal
 */
export function unwatchAbort(signal: AbortSignal, listener: AbortListener): void {
  const listeners = watched.get(signal);
  if (listeners === undefined || !listeners.delete(listener) || listeners.size > 0) return;
  watched.delete(signal);
  // While the signal aborts its once-listener is already gone.
  if (!signal.aborted) signal.removeEventListener('abort', dispatch);
}

/** The signals' `abort` listener: tells each watcher once, in order, isolated from the others. */
function dispatch(event: Event): void {
  const signal = event.currentTarget as AbortSignal;
  const listeners = watched.get(signal);
  if (listeners === undefined) return;
  // The set stays registered while it is walked so that a listener unwatched by an earlier one
  // is skipped, as EventTarget skips removed listeners.
  for (const listener of listeners) {
    listeners.delete(listener);
    try {
      listener.handleAbort();
    } catch (error) {
      diag.error('otel-resilience: an abort listener threw; the other listeners still run', error);
    }
  }
  if (watched.get(signal) === listeners) watched.delete(signal);
}
