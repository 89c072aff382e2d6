import type { Span } from '@opentelemetry/api';
import {
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_RESEND_COUNT,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_TEMPLATE,
} from './semconv.js';
import type { Target } from './target.js';

/**
 * Adds the HTTP client attributes to an attempt span: method, `server.address` (and `server.port`
 * when not the default), the caller's route template, and `http.request.resend_count` from the
 * second attempt on. Only bounded values: never the URL, its path or its query.
 */
export function annotateAttempt(
  span: Span,
  target: Target,
  method: string,
  routeTemplate: string | undefined,
  attempt: number,
): void {
  span.setAttribute(ATTR_HTTP_REQUEST_METHOD, method);
  span.setAttribute(ATTR_SERVER_ADDRESS, target.hostname);
  if (target.port !== undefined) span.setAttribute(ATTR_SERVER_PORT, target.port);
  if (routeTemplate !== undefined) span.setAttribute(ATTR_URL_TEMPLATE, routeTemplate);
  if (attempt > 1) span.setAttribute(ATTR_HTTP_REQUEST_RESEND_COUNT, attempt - 1);
}

/** Adds the response status an attempt received (a success, or an error with a response). */
export function annotateStatus(span: Span, status: unknown): void {
  if (typeof status === 'number' && Number.isInteger(status)) {
    span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
  }
}
