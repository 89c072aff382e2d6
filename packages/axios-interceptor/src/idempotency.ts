import { isBrokenCircuitError } from 'otel-resilience';

/** Methods retried by default: RFC 9110's idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE, TRACE). */
export const DEFAULT_IDEMPOTENT_METHODS: readonly string[] = Object.freeze([
  'GET',
  'HEAD',
  'OPTIONS',
  'PUT',
  'DELETE',
  'TRACE',
]);

/** Header whose presence makes a POST or PATCH safe to retry (IETF draft `Idempotency-Key`). */
export const DEFAULT_IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';

/**
 * Codes of failures that happened before the request could reach the server: the connection was
 * refused, or the host name did not resolve. Retrying them cannot make a non-idempotent request
 * happen twice. (`ECONNRESET`, `ETIMEDOUT` and the like may come after the server got the request.)
 */
const NEVER_SENT_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN']);

/** Whether `error` (or a cause) proves the request never left: see {@link NEVER_SENT_CODES}. */
export function neverSent(error: unknown): boolean {
  let current = error;
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth++) {
    if (isBrokenCircuitError(current)) return true;
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && NEVER_SENT_CODES.has(code)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** Whether `headers` (AxiosHeaders or a plain object) carries `name`, case-insensitively. */
export function hasHeader(headers: unknown, name: string): boolean {
  if (typeof headers !== 'object' || headers === null) return false;
  const has = (headers as { has?: unknown }).has;
  if (typeof has === 'function') return (has as (n: string) => boolean).call(headers, name);
  const lower = name.toLowerCase();
  return Object.keys(headers).some(
    (key) => key.toLowerCase() === lower && (headers as Record<string, unknown>)[key] !== undefined,
  );
}

/**
 * Whether a body can be sent again: strings, buffers, `FormData`, `URLSearchParams` and the like
 * can; a Node stream or a web `ReadableStream` is consumed by the first attempt.
 */
export function isReplayable(data: unknown): boolean {
  if (typeof data !== 'object' || data === null) return true;
  const d = data as { pipe?: unknown; getReader?: unknown };
  return typeof d.pipe !== 'function' && typeof d.getReader !== 'function';
}
