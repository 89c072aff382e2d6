/**
 * A promise that rejects with `error` one microtask from now. A refusal returned as
 * `Promise.reject(error)` is rejected before the caller can attach a handler, so Node records it
 * as a possibly unhandled rejection and un-records it a moment later — which costs more than the
 * refusal itself. By the time this microtask runs, an `await` or `.catch()` is in place.
 */
export function rejectAfterHandlersAttach<T>(error: unknown): Promise<T> {
  return new Promise<T>((_resolve, reject) => queueMicrotask(() => reject(error)));
}
