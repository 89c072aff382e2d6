import type { AlertsConfig } from './config.js';
import { type BuiltRules, LABEL_DB_SYSTEM, LABEL_NAME, LABEL_POOL } from './rules.js';

/**
 * Notification cadence per severity. The seeds' alert "cooldown periods" (seed 003) become
 * Alertmanager's `repeat_interval` (how often a still-firing alert is sent again) and
 * `group_interval` (how soon a changed group is sent again); no seed gives numbers, so these are
 * common choices: a page every hour until fixed, a ticket twice a day.
 */
export const NOTIFICATION_CADENCE = {
  critical: { group_wait: '10s', group_interval: '5m', repeat_interval: '1h' },
  warning: { group_wait: '1m', group_interval: '15m', repeat_interval: '12h' },
} as const;

/** An example Alertmanager configuration routing the generated alerts by severity. */
export function buildAlertmanagerExample(config: AlertsConfig, rules: BuiltRules) {
  const name = (id: string) => {
    const alert = rules.alerts.find((a) => a.id === id);
    if (alert === undefined) throw new Error(`no alert ${id}`);
    return alert.name;
  };
  const pipeline = [...config.groupBy, LABEL_NAME];
  const pool = [...config.groupBy, LABEL_POOL, LABEL_DB_SYSTEM];
  const prefixMatcher = `alertname=~"${config.prefix}.+"`;
  return {
    route: {
      receiver: 'resilience-tickets',
      // One notification per alert and pipeline (or pool), however many instances and hosts.
      group_by: ['alertname', ...config.groupBy, LABEL_NAME, LABEL_POOL],
      group_wait: NOTIFICATION_CADENCE.warning.group_wait,
      group_interval: NOTIFICATION_CADENCE.warning.group_interval,
      repeat_interval: NOTIFICATION_CADENCE.warning.repeat_interval,
      routes: [
        {
          receiver: 'resilience-pager',
          matchers: [prefixMatcher, 'severity="critical"'],
          ...NOTIFICATION_CADENCE.critical,
        },
        {
          receiver: 'resilience-tickets',
          matchers: [prefixMatcher, 'severity="warning"'],
          ...NOTIFICATION_CADENCE.warning,
        },
      ],
    },
    // A critical alert silences the warning that says the same thing less loudly.
    inhibit_rules: [
      {
        source_matchers: [`alertname="${name('failure-rate-critical')}"`],
        target_matchers: [`alertname="${name('failure-rate-warning')}"`],
        equal: pipeline,
      },
      {
        source_matchers: [`alertname="${name('circuit-breaker-open')}"`],
        target_matchers: [`alertname="${name('failure-rate-warning')}"`],
        equal: pipeline,
      },
      {
        source_matchers: [`alertname="${name('error-budget-fast-burn')}"`],
        target_matchers: [`alertname="${name('error-budget-slow-burn')}"`],
        equal: pipeline,
      },
      {
        source_matchers: [`alertname="${name('db-pool-acquire-timeouts')}"`],
        target_matchers: [`alertname="${name('db-pool-nearly-exhausted')}"`],
        equal: pool,
      },
    ],
    receivers: [
      {
        name: 'resilience-pager',
        pagerduty_configs: [
          {
            routing_key: 'REPLACE_WITH_PAGERDUTY_ROUTING_KEY',
            description: '{{ .CommonAnnotations.summary }}',
            links: [{ href: '{{ .CommonAnnotations.runbook_url }}', text: 'Runbook' }],
            send_resolved: true,
          },
        ],
      },
      {
        name: 'resilience-tickets',
        slack_configs: [
          {
            api_url_file: '/etc/alertmanager/secrets/slack-webhook-url',
            channel: '#resilience-alerts',
            title: '[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}',
            text: '{{ range .Alerts }}{{ .Annotations.description }}\nRunbook: {{ .Annotations.runbook_url }}\n{{ end }}',
            send_resolved: true,
          },
        ],
      },
    ],
  };
}
