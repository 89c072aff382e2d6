import { describe, expect, it } from 'vitest';
import { BrokenCircuitError, isBrokenCircuitError } from './BrokenCircuitError.js';
import { withoutStackTrace } from './withoutStackTrace.js';

describe('withoutStackTrace', () => {
  it('builds a working, branded error with no stack frames and restores the limit', () => {
    const limit = Error.stackTraceLimit;
    const error = withoutStackTrace(BrokenCircuitError, 'db', 'open', 1_000);
    expect(isBrokenCircuitError(error)).toBe(true);
    expect(error.message).toBe('Circuit breaker "db" is open; the call was not attempted');
    expect(error.retryAfterMs).toBe(1_000);
    expect(error.stack).not.toMatch(/\n\s+at /);
    expect(Error.stackTraceLimit).toBe(limit);
    expect(new Error('x').stack).toMatch(/\n\s+at /);
  });

  it('restores the limit when the constructor throws', () => {
    const limit = Error.stackTraceLimit;
    class Throwing {
      constructor() {
        throw new Error('no');
      }
    }
    expect(() => withoutStackTrace(Throwing)).toThrow('no');
    expect(Error.stackTraceLimit).toBe(limit);
  });
});
