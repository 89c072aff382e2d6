export { AxiosClassifier } from './AxiosClassifier.js';
export {
  type AxiosResilience,
  attachResilience,
  type BreakerEntry,
} from './attachResilience.js';
export { AXIOS_RULES, axiosErrorRule, engineErrorRule } from './axiosErrorRules.js';
export {
  DEFAULT_IDEMPOTENCY_KEY_HEADER,
  DEFAULT_IDEMPOTENT_METHODS,
  neverSent,
} from './idempotency.js';
export {
  type AxiosCircuitBreakerOptions,
  type AxiosResilienceOptions,
  type AxiosRetryOptions,
  DEFAULT_BREAKER,
  httpIsFailure,
} from './options.js';
export type { ResilienceRequestConfig } from './requestConfig.js';
export {
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_RESEND_COUNT,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_TEMPLATE,
} from './semconv.js';
