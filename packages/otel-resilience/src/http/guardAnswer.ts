import type { InboundRejectionReason } from '../telemetry/attributes.js';
import { type HttpAnswer, jsonAnswer } from './HttpAnswer.js';

const MESSAGES: Record<
  InboundRejectionReason,
  (limitMs: number, retryAfterSeconds?: number) => string
> = {
  shed: (_, retryAfter) =>
    `The server is at capacity and did not start this request; retry after ${retryAfter ?? 1} s.`,
  circuit_open: (_, retryAfter) =>
    `This endpoint is failing and is refusing requests for now; retry after ${retryAfter ?? 1} s.`,
  timeout: (limitMs) =>
    `The request did not complete within its time limit of ${Math.round(limitMs)} ms.`,
  deadline_exceeded: () => "The caller's deadline had already passed when the request arrived.",
};

/**
 * The guard's answer for `reason`: `{ error, message }` — `error` is the reason, for programs;
 * `message` for people. Only the reason and numbers the guard chose go in, nothing from the
 * request (no URL, no headers), so the body is safe to log and to show.
 */
export function guardAnswer(
  reason: InboundRejectionReason,
  status: number,
  limitMs: number,
  retryAfterSeconds?: number,
): HttpAnswer {
  return jsonAnswer(
    status,
    { error: reason, message: MESSAGES[reason](limitMs, retryAfterSeconds) },
    retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) },
  );
}
