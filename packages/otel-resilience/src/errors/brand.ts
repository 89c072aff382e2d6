/**
 * Brands survive two copies of this package in one process (a dependency bundling its own), where
 * `instanceof` fails: every error class sets a `Symbol.for` key and its guard checks that key.
 */
export function hasBrand(value: unknown, brand: symbol): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as Record<symbol, unknown>)[brand] === true
  );
}
