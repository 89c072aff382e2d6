import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { timeout } from '../TimeoutPolicy.js';
import { installTestTelemetry, points, type TestTelemetry } from '../testing/otel.js';
import { VERSION } from '../version.js';
import { wrap } from '../wrap.js';

describe('call telemetry with an SDK installed', () => {
  let otel: TestTelemetry;
  beforeEach(() => {
    otel = installTestTelemetry();
  });
  afterEach(async () => {
    await otel.uninstall();
  });

  it('emits one INTERNAL call span, active while fn runs, and the call and attempt durations', async () => {
    const policy = timeout(1_000, { name: 'inventory' });
    let innerParent: string | undefined;
    await policy.execute(() => {
      const inner = trace.getTracer('user').startSpan('user work');
      innerParent = (inner as unknown as { parentSpanContext?: { spanId: string } })
        .parentSpanContext?.spanId;
      inner.end();
      return 'ok';
    });

    const spans = otel.spans();
    const call = spans.find((s) => s.name === 'resilience inventory');
    expect(call).toBeDefined();
    expect(call?.kind).toBe(SpanKind.INTERNAL);
    expect(call?.instrumentationScope).toMatchObject({ name: 'otel-resilience', version: VERSION });
    expect(call?.attributes).toEqual({
      'resilience.name': 'inventory',
      'resilience.outcome': 'success',
      'resilience.attempts': 1,
    });
    expect(call?.status.code).toBe(SpanStatusCode.UNSET);
    expect(innerParent).toBe(call?.spanContext().spanId);

    const data = await otel.collect();
    const callDuration = data.find((m) => m.descriptor.name === 'resilience.call.duration');
    expect(callDuration?.descriptor.unit).toBe('s');
    expect(points(data, 'resilience.call.duration').map((p) => p.attributes)).toEqual([
      { 'resilience.name': 'inventory', 'resilience.outcome': 'success' },
    ]);
    expect(points(data, 'resilience.attempt.duration').map((p) => p.attributes)).toEqual([
      { 'resilience.name': 'inventory', 'resilience.outcome': 'success' },
    ]);
  });

  it('marks a failed call with error.type and category, never the message', async () => {
    const policy = wrap({ name: 'checkout' }, timeout(1_000));
    const secret = 'token=abc123 at https://api.example.com/v1?key=s3cr3t';
    await expect(
      policy.execute(() =>
        Promise.reject(Object.assign(new Error(secret), { code: 'ECONNRESET' })),
      ),
    ).rejects.toThrow();

    const [call] = otel.spans();
    expect(call?.name).toBe('resilience checkout');
    expect(call?.status).toEqual({ code: SpanStatusCode.ERROR });
    expect(call?.attributes).toEqual({
      'resilience.name': 'checkout',
      'resilience.outcome': 'failure',
      'resilience.attempts': 1,
      'error.type': 'ECONNRESET',
      'resilience.error.category': 'transient',
    });
    expect(call?.events).toEqual([]);
    expect(
      JSON.stringify([call?.name, call?.attributes, call?.events, call?.status]),
    ).not.toContain('s3cr3t');

    const data = await otel.collect();
    expect(points(data, 'resilience.call.duration').map((p) => p.attributes)).toEqual([
      {
        'resilience.name': 'checkout',
        'resilience.outcome': 'failure',
        'error.type': 'ECONNRESET',
        'resilience.error.category': 'transient',
      },
    ]);
  });

  it('records a timeout as a span event and a counter', async () => {
    vi.useFakeTimers();
    try {
      const policy = timeout(50, { name: 'slow-dep', strategy: 'aggressive' });
      const result = policy.execute(() => new Promise(() => {}));
      const assertion = expect(result).rejects.toThrow(/timed out/);
      await vi.advanceTimersByTimeAsync(50);
      await assertion;
    } finally {
      vi.useRealTimers();
    }
    const [call] = otel.spans();
    expect(call?.events.map((e) => [e.name, e.attributes])).toEqual([
      [
        'resilience.timeout',
        { 'resilience.timeout.strategy': 'aggressive', 'resilience.timeout.source': 'timeout' },
      ],
    ]);
    expect(call?.attributes['error.type']).toBe('timeout');
    const data = await otel.collect();
    const timeouts = data.find((m) => m.descriptor.name === 'resilience.timeouts');
    expect(timeouts?.descriptor.unit).toBe('{timeout}');
    expect(points(data, 'resilience.timeouts')).toContainEqual({
      attributes: {
        'resilience.name': 'slow-dep',
        'resilience.timeout.strategy': 'aggressive',
        'resilience.timeout.source': 'timeout',
      },
      value: 1,
    });
  });

  it('picks up an SDK registered after the policy was created', async () => {
    await otel.uninstall();
    const policy = timeout(1_000, { name: 'late-sdk' });
    await policy.execute(() => 1);
    otel = installTestTelemetry();
    await policy.execute(() => 1);
    const data = await otel.collect();
    expect(points(data, 'resilience.call.duration')).toHaveLength(1);
    expect(otel.spans()).toHaveLength(1);
  });
});

describe('without an SDK', () => {
  it('reads no clock beyond what the policy itself needs', async () => {
    const spy = vi.spyOn(performance, 'now');
    await timeout(1_000).execute(() => 1);
    // The timeout's deadline is the only reading: the call itself is not timed.
    expect(spy).toHaveBeenCalledTimes(1);
    spy.mockRestore();
  });
});

describe('classification within a call', () => {
  it('classifies the same error again when another classifier asks', async () => {
    const { Classifier } = await import('../classification/Classifier.js');
    const { fallback } = await import('../FallbackPolicy.js');
    const { wrap: compose } = await import('../wrap.js');
    const custom = new Classifier({ rules: [() => ({ category: 'data', errorType: 'custom' })] });
    const seen: string[] = [];
    const pipeline = compose(
      fallback(
        ({ classification }) => {
          seen.push(classification.errorType);
          return 'fallback';
        },
        { classifier: custom },
      ),
      timeout(1_000),
    );
    await expect(
      pipeline.execute(() => Promise.reject(Object.assign(new Error('x'), { code: 'ECONNRESET' }))),
    ).resolves.toBe('fallback');
    expect(seen).toEqual(['custom']);
  });
});
