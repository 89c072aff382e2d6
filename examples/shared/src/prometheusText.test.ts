import { describe, expect, it } from 'vitest';
import { MetricsSnapshot } from './prometheusText.js';

const TEXT = `# HELP target_info Target metadata
# TYPE target_info gauge
target_info{service_name="demo"} 1
# TYPE resilience_retry_decisions_total counter
resilience_retry_decisions_total{resilience_name="upstream",resilience_retry_decision="retry",otel_scope_name="otel-resilience"} 12
resilience_retry_decisions_total{resilience_name="upstream",resilience_retry_decision="skipped"} 3 1700000000000
resilience_retry_decisions_total{resilience_name="a \\"quoted\\", name"} 1
# TYPE resilience_call_duration histogram
resilience_call_duration_bucket{resilience_name="upstream",le="+Inf"} 20
resilience_call_duration_count{resilience_name="upstream"} 20
plain_metric 4.5e1
`;

describe('MetricsSnapshot', () => {
  const snapshot = MetricsSnapshot.parse(TEXT);

  it('reads samples, labels (escapes included) and families', () => {
    expect(snapshot.families.get('resilience_retry_decisions_total')).toBe('counter');
    expect(snapshot.families.get('resilience_call_duration')).toBe('histogram');
    expect(snapshot.select('resilience_retry_decisions_total')).toHaveLength(3);
    expect(snapshot.select('resilience_retry_decisions_total')[2]?.labels).toEqual({
      resilience_name: 'a "quoted", name',
    });
    expect(snapshot.sum('resilience_call_duration_bucket', { le: '+Inf' })).toBe(20);
    expect(snapshot.sum('plain_metric')).toBe(45);
  });

  it('sums by exact labels or predicates', () => {
    expect(snapshot.sum('resilience_retry_decisions_total', { resilience_name: 'upstream' })).toBe(
      15,
    );
    expect(
      snapshot.sum('resilience_retry_decisions_total', { resilience_retry_decision: 'retry' }),
    ).toBe(12);
    expect(
      snapshot.sum('resilience_retry_decisions_total', {
        resilience_name: (v) => v.startsWith('a'),
      }),
    ).toBe(1);
    expect(snapshot.sum('missing')).toBe(0);
    expect(snapshot.has('target_info')).toBe(true);
  });
});
