/**
 * Constructs an error without capturing a stack trace. Used for the refusals a policy issues on
 * purpose and at high rate (an open breaker, a full bulkhead): refusing fast is their point,
 * capturing a stack costs more than the rest of the refusal, and it would only ever point inside
 * the policy.
 */
export function withoutStackTrace<A extends unknown[], E>(
  ErrorClass: new (...args: A) => E,
  ...args: A
): E {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new ErrorClass(...args);
  } finally {
    Error.stackTraceLimit = limit;
  }
}
