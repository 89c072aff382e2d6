import type { IncomingMessage } from 'node:http';
import type { Context } from 'koa';
import type { InboundRequest } from 'otel-resilience';

// On Node's request object (which every Koa context of the request shares, mounted sub-apps
// included) under a global symbol, so two copies of this package in one process agree.
const INBOUND_REQUEST = Symbol.for('otel-resilience-koa.inbound-request');

type WithInboundRequest = IncomingMessage & { [INBOUND_REQUEST]?: InboundRequest };

/**
 * The `InboundRequest` the resilience middleware opened for this request (its `signal`, `deadline`,
 * `retryBudget`, `answeredWith`), or `undefined` when no resilience middleware ran before.
 * Handlers rarely need it: outbound calls read the same deadline, signal and budget from the
 * deadline scope (`currentDeadlineScope()` of `otel-resilience`) without being passed anything.
 */
export function inboundRequestOf(ctx: Context): InboundRequest | undefined {
  return (ctx.req as WithInboundRequest)[INBOUND_REQUEST];
}

/** Remembers `request` as the request's `InboundRequest`. @internal */
export function attachInboundRequest(ctx: Context, request: InboundRequest): void {
  (ctx.req as WithInboundRequest)[INBOUND_REQUEST] = request;
}
