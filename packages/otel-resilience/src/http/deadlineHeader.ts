/** Longest inbound deadline accepted from a header: one day, in milliseconds. */
const MAX_HEADER_MS = 86_400_000;
const MILLISECONDS = /^\s*(\d{1,9})(\.\d+)?\s*$/;

/**
 * Reads a remaining-time-in-milliseconds header (Envoy's `x-envoy-expected-rq-timeout-ms` and
 * similar). Returns the milliseconds left, `undefined` when the header is absent, or `'invalid'`
 * for anything that is not one non-negative number of milliseconds up to a day (a repeated
 * header, a unit suffix, a negative or absurd value).
 */
export function parseDeadlineHeader(
  value: string | string[] | undefined,
): number | 'invalid' | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') return 'invalid';
  const match = MILLISECONDS.exec(value);
  if (match === null) return 'invalid';
  const ms = Number(match[1]) + (match[2] === undefined ? 0 : Number(match[2]));
  return ms > MAX_HEADER_MS ? 'invalid' : ms;
}
