/**
 * Attribute keys this package sets. The HTTP and URL keys are stable OpenTelemetry semantic
 * conventions (copied rather than imported, so `@opentelemetry/semantic-conventions` is not a
 * dependency); values are always bounded.
 */

/** Host name or IP of the upstream, from the request URL (never the path or query). */
export const ATTR_SERVER_ADDRESS = 'server.address';
/** Upstream port, only when the URL names a non-default one (integer, spans only). */
export const ATTR_SERVER_PORT = 'server.port';
/** HTTP method, upper case; `_OTHER` outside the methods the conventions know. */
export const ATTR_HTTP_REQUEST_METHOD = 'http.request.method';
/** Status of the response the attempt received, when one arrived. */
export const ATTR_HTTP_RESPONSE_STATUS_CODE = 'http.response.status_code';
/** Resends before this attempt: 1 on the second attempt, 2 on the third... (absent on the first). */
export const ATTR_HTTP_REQUEST_RESEND_COUNT = 'http.request.resend_count';
/** The route template the caller supplied (`/users/{id}`), never the concrete path. */
export const ATTR_URL_TEMPLATE = 'url.template';

/** The semantic conventions' value for anything outside a bounded set. */
export const OTHER = '_OTHER';
