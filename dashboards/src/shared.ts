import type { CircuitState } from 'otel-resilience';
import { type StateValue, stateTimelinePanel } from './panels.js';
import { eq, LABEL, maxBy, type Promql, sumBy } from './promql.js';

/**
 * How the breaker state timeline encodes states: worse is higher, so that `max` over the
 * instances of one breaker shows the worst state any of them is in.
 */
export const BREAKER_STATES: readonly (StateValue & { readonly state: CircuitState })[] = [
  { state: 'closed', value: 0, text: 'closed', color: 'green' },
  { state: 'half_open', value: 1, text: 'half-open', color: 'orange' },
  { state: 'open', value: 2, text: 'open', color: 'red' },
  { state: 'isolated', value: 3, text: 'isolated', color: 'purple' },
];

/**
 * One value per breaker (grouped by `by`): the code of the worst state any of its instances is
 * in. `resilience.circuit_breaker.state` counts the breakers of a name in each state, and a state
 * has a series only once some breaker entered it, so each state is read on its own and the
 * results are merged with `or`.
 */
export function breakerStateExpr(q: Promql, matchers: readonly string[], by: readonly string[]) {
  const parts = [...BREAKER_STATES]
    .reverse()
    .map(
      ({ state, value }) =>
        `(${q.select('circuitState', [...matchers, eq(LABEL.state, state)])} > 0) * 0 + ${value}`,
    );
  return maxBy(by, parts.join('\n  or '));
}

/** A state timeline of breakers: one row per breaker (`by`), coloured by state. */
export function breakerTimeline(
  q: Promql,
  options: {
    readonly title: string;
    readonly description: string;
    readonly matchers: readonly string[];
    readonly by: readonly string[];
    readonly legend: string;
    readonly width?: number;
    readonly height?: number;
  },
) {
  return stateTimelinePanel({
    title: options.title,
    description: options.description,
    targets: [{ expr: breakerStateExpr(q, options.matchers, options.by), legend: options.legend }],
    states: BREAKER_STATES,
    width: options.width ?? 24,
    height: options.height ?? 8,
  });
}

/**
 * Number of breakers (among `matchers`) in `state` now; 0, not "No data", when none ever entered
 * it but breakers exist.
 */
export function breakersIn(q: Promql, state: CircuitState, matchers: readonly string[]): string {
  return `${sumBy([], q.select('circuitState', [...matchers, eq(LABEL.state, state)]))} or ${sumBy([], q.select('circuitState', matchers))} * 0`;
}
