import type { AxiosRequestConfig } from 'axios';
import type { ExecuteContext } from 'otel-resilience';

type AbortListener = (this: AttemptSignal, event: { readonly type: 'abort' }) => void;

/** The adapters Axios ships, which are the only ones handed an {@link AttemptSignal}. */
const BUILT_IN_ADAPTERS: ReadonlySet<unknown> = new Set(['http', 'xhr', 'fetch']);

/**
 * Whether an adapter setting names only Axios's own adapters (`'http'`, `'xhr'`, `'fetch'`, or a
 * list of them: the default), as opposed to a function of the user's.
 */
export function isBuiltInAdapter(setting: AxiosRequestConfig['adapter']): boolean {
  if (setting === undefined) return true;
  if (Array.isArray(setting)) return setting.every((name) => BUILT_IN_ADAPTERS.has(name));
  return BUILT_IN_ADAPTERS.has(setting);
}

/**
 * The `config.signal` an attempt hands to one of Axios's own adapters: the members they use —
 * `aborted`, `reason`, `addEventListener('abort', …)`, `removeEventListener` — driven by the
 * attempt context's `onAbort`. A real `AbortSignal` costs an AbortController and an EventTarget per
 * attempt, about as much as the rest of the interceptor; an adapter function of the user's still
 * gets one (`fetch` and others accept nothing else).
 */
export class AttemptSignal {
  aborted = false;
  reason: unknown = undefined;
  /** Stops following the attempt: call when it settles. */
  readonly release: () => void;
  private listeners: AbortListener[] | undefined;

  constructor(ctx: ExecuteContext) {
    this.release = ctx.onAbort((reason) => this.abort(reason));
  }

  addEventListener(type: string, listener: AbortListener): void {
    if (type !== 'abort' || typeof listener !== 'function') return;
    this.listeners ??= [];
    if (!this.listeners.includes(listener)) this.listeners.push(listener);
  }

  removeEventListener(type: string, listener: AbortListener): void {
    const index = type === 'abort' ? (this.listeners?.indexOf(listener) ?? -1) : -1;
    if (index >= 0) this.listeners?.splice(index, 1);
  }

  throwIfAborted(): void {
    if (this.aborted) throw this.reason;
  }

  private abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.listeners;
    this.listeners = undefined;
    if (listeners === undefined) return;
    const event = { type: 'abort' } as const;
    for (const listener of listeners) listener.call(this, event);
  }
}
