import type { Context } from 'koa';
import type { HttpAnswer } from 'otel-resilience';

/** Hands one of the engine's answers (a refusal, a health report) to Koa to write. */
export function respondWith(ctx: Context, answer: HttpAnswer): void {
  ctx.status = answer.status;
  ctx.set(answer.headers);
  ctx.body = answer.body;
}
