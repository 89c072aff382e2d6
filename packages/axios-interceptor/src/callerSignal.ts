/** The parts of a request config that can stop it. */
interface Cancellable {
  readonly signal?: unknown;
  readonly cancelToken?: unknown;
}

interface CancelTokenLike {
  subscribe(listener: (reason: unknown) => void): void;
  unsubscribe(listener: (reason: unknown) => void): void;
}

interface EventTargetSignal {
  readonly aborted: boolean;
  readonly reason?: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** What the caller's cancellation looks like to the engine, and how to let go of it. */
export interface CallerSignal {
  /** Aborted when any of the request's signal, cancel token or the deadline scope's signal is. */
  readonly signal: AbortSignal | undefined;
  /** Removes the listeners this made (call when the request settles). */
  readonly release: () => void;
}

const NOTHING = (): void => {};
const NO_CALLER_SIGNAL: CallerSignal = { signal: undefined, release: NOTHING };

/**
 * One signal for everything that may cancel a request: its `signal` (an `AbortSignal` or any
 * object with `aborted` and `addEventListener`), its legacy `cancelToken`, and the signal of the
 * deadline scope (the inbound request whose client went away). The retry must see each of them,
 * or it would retry a request its caller has cancelled.
 */
export function callerSignal(
  config: Cancellable,
  scopeSignal: AbortSignal | undefined,
): CallerSignal {
  const own = config.signal;
  const token = config.cancelToken;
  // Most requests: nothing to follow but (perhaps) the scope's signal.
  if (own === undefined && token === undefined) {
    return scopeSignal === undefined ? NO_CALLER_SIGNAL : { signal: scopeSignal, release: NOTHING };
  }
  const signals: AbortSignal[] = [];
  const releases: Array<() => void> = [];
  if (own instanceof AbortSignal) {
    signals.push(own);
  } else if (isEventTargetSignal(own)) {
    const controller = new AbortController();
    const onAbort = (): void => controller.abort(own.reason);
    if (own.aborted) onAbort();
    else own.addEventListener('abort', onAbort, { once: true });
    releases.push(() => own.removeEventListener('abort', onAbort));
    signals.push(controller.signal);
  }
  if (isCancelToken(token)) {
    const controller = new AbortController();
    const onCancel = (reason: unknown): void => controller.abort(reason);
    token.subscribe(onCancel);
    releases.push(() => token.unsubscribe(onCancel));
    signals.push(controller.signal);
  }
  if (scopeSignal !== undefined) signals.push(scopeSignal);
  return {
    signal: signals.length <= 1 ? signals[0] : AbortSignal.any(signals),
    release:
      releases.length === 0
        ? NOTHING
        : () => {
            for (const release of releases) release();
          },
  };
}

function isEventTargetSignal(value: unknown): value is EventTargetSignal {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as EventTargetSignal).aborted === 'boolean' &&
    typeof (value as EventTargetSignal).addEventListener === 'function' &&
    typeof (value as EventTargetSignal).removeEventListener === 'function'
  );
}

function isCancelToken(value: unknown): value is CancelTokenLike {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as CancelTokenLike).subscribe === 'function' &&
    typeof (value as CancelTokenLike).unsubscribe === 'function'
  );
}
