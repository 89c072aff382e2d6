import type { DashboardSpec } from './dashboard.js';
import { statPanel, tablePanel, timeseriesPanel } from './panels.js';
import { isVar, LABEL, sumBy } from './promql.js';
import { breakersIn, breakerTimeline } from './shared.js';

const BREAKER = [isVar(LABEL.name, 'breaker')];
/**
 * A breaker is its resilience.name, plus server.address for the Axios interceptor's per-host
 * breakers (which share the instance's name). Route breakers of the Express and Koa middleware
 * are named "<name> <route>", the Knex plugin's after the database.
 */
const BREAKER_KEY = [LABEL.name, LABEL.serverAddress];
const BREAKER_LEGEND = `{{${LABEL.name}}} {{${LABEL.serverAddress}}}`;

/** State, transitions and refusals of every circuit breaker. */
export const breakers: DashboardSpec = {
  slug: 'breakers',
  title: 'Circuit breakers',
  description:
    'Every circuit breaker of the selected services: how many are in each state, the state of each over time, its transitions and the calls it refused.',
  targets: { metric: 'circuitState' },
  variables: [
    {
      name: 'breaker',
      label: 'Breaker',
      description: 'resilience.name of the circuit breaker.',
      metric: 'circuitState',
      valuesOf: LABEL.name,
    },
  ],
  rows: (q) => [
    {
      title: 'State',
      panels: [
        statPanel({
          title: 'Open',
          description:
            'Breakers open now: calls fail fast until the open period ends (resilience.circuit_breaker.state).',
          targets: [{ expr: breakersIn(q, 'open', BREAKER) }],
          thresholds: [{ value: 1, color: 'red' }],
          background: true,
        }),
        statPanel({
          title: 'Half-open',
          description: 'Breakers letting trial calls through now.',
          targets: [{ expr: breakersIn(q, 'half_open', BREAKER) }],
          thresholds: [{ value: 1, color: 'orange' }],
          background: true,
        }),
        statPanel({
          title: 'Isolated',
          description: 'Breakers held open by hand (isolate()) now.',
          targets: [{ expr: breakersIn(q, 'isolated', BREAKER) }],
          thresholds: [{ value: 1, color: 'purple' }],
          background: true,
        }),
        statPanel({
          title: 'Closed',
          description: 'Breakers letting every call through now.',
          targets: [{ expr: breakersIn(q, 'closed', BREAKER) }],
        }),
        breakerTimeline(q, {
          title: 'State per breaker',
          description:
            'The state of each breaker over time; with several instances, the worst state any instance is in (isolated > open > half-open > closed).',
          matchers: BREAKER,
          by: BREAKER_KEY,
          legend: BREAKER_LEGEND,
          height: 10,
        }),
      ],
    },
    {
      title: 'Transitions and rejections',
      panels: [
        timeseriesPanel({
          title: 'Transitions',
          description:
            'State changes within each interval, by breaker, previous state and new state (resilience.circuit_breaker.transitions).',
          targets: [
            {
              expr: sumBy(
                [...BREAKER_KEY, LABEL.previousState, LABEL.state],
                q.increase('circuitTransitions', BREAKER),
              ),
              legend: `${BREAKER_LEGEND} {{${LABEL.previousState}}} → {{${LABEL.state}}}`,
            },
          ],
          width: 12,
        }),
        timeseriesPanel({
          title: 'Rejections',
          description:
            'Calls refused without being attempted per second, by breaker and the state that refused them: open, half_open (trial slots taken) or isolated (resilience.circuit_breaker.rejections).',
          targets: [
            {
              expr: sumBy([...BREAKER_KEY, LABEL.state], q.rate('circuitRejections', BREAKER)),
              legend: `${BREAKER_LEGEND} {{${LABEL.state}}}`,
            },
          ],
          unit: 'ops',
          width: 12,
        }),
        tablePanel({
          title: 'Transitions in the time range',
          description: 'How often each breaker changed state over the whole time range.',
          targets: [
            {
              expr: `round(${sumBy(
                [...BREAKER_KEY, LABEL.previousState, LABEL.state],
                q.increaseOverRange('circuitTransitions', BREAKER),
              )})`,
              instant: true,
            },
          ],
          valueColumn: 'transitions',
          width: 24,
        }),
      ],
    },
  ],
};
