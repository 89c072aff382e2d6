import { wallClockNow } from '../clock.js';

/** Upper bound for any hint we accept (one day): larger values are treated as garbage. */
const MAX_HINT_MS = 86_400_000;

/**
 * Reads a Retry-After hint as milliseconds to wait, or `undefined` when it is absent or invalid.
 *
 * - a number is milliseconds (the convention for hints carried on error objects);
 * - a `Date` is an absolute time;
 * - a string of digits is seconds (the HTTP header's delta-seconds form);
 * - any other string is parsed as an HTTP date.
 *
 * Times in the past yield 0. Negative, non-finite and absurdly large values yield `undefined`.
 */
export function parseRetryAfter(
  value: unknown,
  nowMs: number = wallClockNow(),
): number | undefined {
  let ms: number;
  if (typeof value === 'number') {
    ms = value;
  } else if (value instanceof Date) {
    ms = value.getTime() - nowMs;
    if (Number.isFinite(ms)) ms = Math.max(0, ms);
  } else if (typeof value === 'string') {
    const text = value.trim();
    if (/^\d+$/.test(text)) {
      ms = Number(text) * 1000;
    } else if (/^[-+.\d\s]*$/.test(text)) {
      // Signed or fractional numbers are not valid delta-seconds, and Date.parse would read them
      // as years.
      return undefined;
    } else {
      const at = Date.parse(text);
      if (Number.isNaN(at)) return undefined;
      ms = Math.max(0, at - nowMs);
    }
  } else {
    return undefined;
  }
  return Number.isFinite(ms) && ms >= 0 && ms <= MAX_HINT_MS ? ms : undefined;
}

function headerOf(headers: unknown, name: string): unknown {
  if (typeof headers !== 'object' || headers === null) return undefined;
  const getter = (headers as { get?: unknown }).get;
  if (typeof getter === 'function') {
    // Fetch `Headers`, AxiosHeaders and similar.
    const value = (getter as (n: string) => unknown).call(headers, name);
    if (value !== undefined && value !== null) return value;
  }
  const record = headers as Record<string, unknown>;
  return (
    record[name] ??
    record[name.replace(/(^|-)([a-z])/g, (_, d: string, c: string) => d + c.toUpperCase())]
  );
}

/**
 * The Retry-After hint an error carries, in milliseconds: `retryAfterMs` (number), `retryAfter`
 * (milliseconds, `Date` or HTTP date), or a `retry-after` header on `error.headers` /
 * `error.response.headers` (seconds or HTTP date).
 */
export function retryAfterHintOf(
  error: unknown,
  nowMs: number = wallClockNow(),
): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as Record<string, unknown>;
  if (typeof e.retryAfterMs === 'number') return parseRetryAfter(e.retryAfterMs, nowMs);
  if (e.retryAfter !== undefined) return parseRetryAfter(e.retryAfter, nowMs);
  const response = e.response as Record<string, unknown> | undefined;
  const header =
    headerOf(e.headers, 'retry-after') ??
    (typeof response === 'object' && response !== null
      ? headerOf(response.headers, 'retry-after')
      : undefined);
  if (Array.isArray(header)) return parseRetryAfter(header[0], nowMs);
  return typeof header === 'string' ? parseRetryAfter(header, nowMs) : undefined;
}
