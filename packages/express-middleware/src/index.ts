export {
  ExpressResilience,
  type ExpressResilienceOptions,
  type ExpressRouteOptions,
  expressResilience,
} from './ExpressResilience.js';
export type { HealthEndpointsOptions } from './healthEndpoints.js';
export { inboundRequestOf } from './inboundRequestOf.js';
export type { MetricsEndpointOptions, PrometheusRequestHandlerSource } from './metricsEndpoint.js';
