const SAFE_TOKEN = /^[A-Za-z0-9_.-]{1,64}$/;

/** The HTTP status found on common error shapes (fetch wrappers, axios, got, http-errors). */
export function httpStatusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as Record<string, unknown>;
  const response = e.response as Record<string, unknown> | undefined | null;
  for (const candidate of [
    e.status,
    e.statusCode,
    response && typeof response === 'object' ? response.status : undefined,
    response && typeof response === 'object' ? response.statusCode : undefined,
  ]) {
    if (
      typeof candidate === 'number' &&
      Number.isInteger(candidate) &&
      candidate >= 100 &&
      candidate <= 599
    ) {
      return candidate;
    }
  }
  return undefined;
}

/** A string `code` property when it looks like a code (`ECONNRESET`, `57P01`, `ER_LOCK_DEADLOCK`). */
export function errorCodeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && SAFE_TOKEN.test(code)) return code;
  if (typeof code === 'number' && Number.isInteger(code)) return String(code);
  return undefined;
}

/**
 * A bounded `error.type` value for telemetry: the error's code, else its HTTP status, else its
 * class name, else `_OTHER` (the semantic conventions' fallback). Never the message.
 */
export function errorTypeOf(error: unknown): string {
  const code = errorCodeOf(error);
  if (code !== undefined) return code;
  const status = httpStatusOf(error);
  if (status !== undefined) return String(status);
  if (typeof error === 'object' && error !== null) {
    const name = (error as { name?: unknown }).name;
    if (typeof name === 'string' && SAFE_TOKEN.test(name)) return name;
    const ctor = (error as { constructor?: { name?: unknown } }).constructor?.name;
    if (typeof ctor === 'string' && SAFE_TOKEN.test(ctor)) return ctor;
  }
  return '_OTHER';
}
