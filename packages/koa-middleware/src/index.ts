export { type HealthEndpointsOptions, healthEndpoints } from './healthEndpoints.js';
export { inboundRequestOf } from './inboundRequestOf.js';
export { type KoaResilience, type KoaResilienceOptions, koaResilience } from './koaResilience.js';
export { type MetricsEndpointOptions, metricsEndpoint } from './metricsEndpoint.js';
export { routeTemplateOf } from './routeTemplate.js';
