/** How deep the `cause` chain is followed (guards against cycles and pathological nesting). */
const MAX_CAUSE_DEPTH = 8;

/**
 * `error`, then its `cause`, the cause's `cause`, ... — at most 8 deep, stopping at a cycle. What
 * classification rules are tried on, outermost first: a wrapper (an ORM's error, a rejected
 * ROLLBACK) keeps the code that says what happened in its cause.
 */
export function causeChain(error: unknown): unknown[] {
  const chain: unknown[] = [error];
  let current = error;
  while (chain.length < MAX_CAUSE_DEPTH && typeof current === 'object' && current !== null) {
    const cause = (current as { cause?: unknown }).cause;
    if (cause === undefined || cause === null || chain.includes(cause)) break;
    chain.push(cause);
    current = cause;
  }
  return chain;
}
