import type { IncomingMessage } from 'node:http';
import type { InboundRequest } from 'otel-resilience';

/**
 * Where the middleware keeps a request's {@link InboundRequest} on Express's request object. A
 * global symbol, so that two copies of this package (the ESM and CJS builds, or two installed
 * versions) guarding one app find each other's requests instead of guarding them twice.
 */
const INBOUND_REQUEST = Symbol.for('otel-resilience-express.inbound-request');

type Carrier = IncomingMessage & { [INBOUND_REQUEST]?: InboundRequest };

/**
 * The {@link InboundRequest} guarding `req`, or `undefined` when no resilience middleware has seen
 * it. Handlers rarely need it — the request's deadline, `AbortSignal` and retry budget are already
 * in the deadline scope (`currentDeadlineScope()`, `remainingTimeMs()`) — but it gives the signal
 * to code that runs outside that scope: `inboundRequestOf(req)?.signal`.
 */
export function inboundRequestOf(req: IncomingMessage): InboundRequest | undefined {
  return (req as Carrier)[INBOUND_REQUEST];
}

/**
 * Stores `request` on `req`. A plain assignment, the cheapest store V8 has: the symbol key keeps
 * it out of `Object.keys`, `for…in` and `JSON.stringify` (only `util.inspect` shows symbols).
 */
export function attachInboundRequest(req: IncomingMessage, request: InboundRequest): void {
  (req as Carrier)[INBOUND_REQUEST] = request;
}
