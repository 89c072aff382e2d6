/**
 * Construction-time option checks. Each throws a `TypeError` naming the option and the value it
 * got, so a bad configuration fails loudly where it is written rather than misbehaving later.
 */

const show = (value: unknown): string =>
  typeof value === 'string' ? JSON.stringify(value) : String(value);

/** `value` must be an integer ≥ `min` (Infinity allowed when `allowInfinity`). */
export function checkInteger(
  option: string,
  value: unknown,
  min: number,
  allowInfinity = false,
): number {
  if (
    typeof value !== 'number' ||
    Number.isNaN(value) ||
    (!Number.isInteger(value) && !(allowInfinity && value === Number.POSITIVE_INFINITY)) ||
    value < min
  ) {
    throw new TypeError(
      `${option} must be an integer >= ${min}${allowInfinity ? ' (or Infinity)' : ''}, got ${show(value)}`,
    );
  }
  return value;
}

/** `value` must be a finite number ≥ 0 (milliseconds, factors). */
export function checkNonNegative(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new TypeError(`${option} must be a finite number >= 0, got ${show(value)}`);
  }
  return value;
}

/** `value` must be a finite number > 0. */
export function checkPositive(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new TypeError(`${option} must be a finite number > 0, got ${show(value)}`);
  }
  return value;
}

/** `value` must be a number ≥ 0, Infinity allowed (caps that may be disabled). */
export function checkNonNegativeOrInfinity(option: string, value: unknown): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw new TypeError(`${option} must be a number >= 0 (or Infinity), got ${show(value)}`);
  }
  return value;
}

/** `value` must be a ratio in (0, 1]. */
export function checkRatio(option: string, value: unknown): number {
  if (typeof value !== 'number' || !(value > 0 && value <= 1)) {
    throw new TypeError(`${option} must be a number in (0, 1], got ${show(value)}`);
  }
  return value;
}

/** `value` must be a function (or undefined when optional). */
export function checkFunction(option: string, value: unknown): void {
  if (typeof value !== 'function') {
    throw new TypeError(`${option} must be a function, got ${show(value)}`);
  }
}

/** A name used as a telemetry attribute: a non-empty string of at most 128 characters. */
export function checkName(option: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 128) {
    throw new TypeError(
      `${option} must be a non-empty string of at most 128 characters, got ${show(value)}`,
    );
  }
  return value;
}

/**
 * Constant policy attributes: a plain object of non-empty string values whose keys do not collide
 * with the package's own attributes (which would make series ambiguous).
 */
export function checkAttributes(
  option: string,
  value: unknown,
): Readonly<Record<string, string>> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`${option} must be an object of string values, got ${show(value)}`);
  }
  const checked: Record<string, string> = {};
  for (const [key, entry] of Object.entries(value)) {
    if (key.startsWith('resilience.') || key === 'error.type') {
      throw new TypeError(`${option} may not set the reserved attribute ${JSON.stringify(key)}`);
    }
    if (typeof entry !== 'string' || entry.length === 0) {
      throw new TypeError(`${option}.${key} must be a non-empty string, got ${show(entry)}`);
    }
    checked[key] = entry;
  }
  return Object.freeze(checked);
}
