/**
 * The state of a circuit breaker, also the value of the `resilience.circuit_breaker.state`
 * attribute:
 * - `closed`: calls run and their outcomes feed the breaker strategy;
 * - `open`: calls are refused until the open duration has passed;
 * - `half_open`: a limited number of trial calls run; enough successes close the circuit, one
 *   failure opens it again;
 * - `isolated`: held open by hand ({@link CircuitBreakerPolicy.isolate}) until released or reset.
 */
export type CircuitState = 'closed' | 'open' | 'half_open' | 'isolated';

/** Every circuit state, in a stable order (telemetry, docs, validation). */
export const CIRCUIT_STATES: readonly CircuitState[] = ['closed', 'open', 'half_open', 'isolated'];
