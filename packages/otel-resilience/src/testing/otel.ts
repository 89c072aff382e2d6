import {
  context,
  type DiagLogFunction,
  DiagLogLevel,
  diag,
  metrics,
  trace,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  type MetricData,
  PeriodicExportingMetricReader,
  type PeriodicExportingMetricReaderOptions,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterEach, beforeEach, type Mock, vi } from 'vitest';

/**
 * A real OpenTelemetry SDK (tracer + meter providers, in-memory exporters) registered globally for
 * one test. Call `uninstall()` after it.
 */
export interface TestTelemetry {
  readonly spans: () => ReadableSpan[];
  /** Collects now and returns every metric of this package's scope. */
  readonly collect: () => Promise<MetricData[]>;
  readonly uninstall: () => Promise<void>;
}

export function installTestTelemetry(
  options: { metricProducers?: PeriodicExportingMetricReaderOptions['metricProducers'] } = {},
): TestTelemetry {
  const spanExporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(spanExporter)],
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  trace.setGlobalTracerProvider(tracerProvider);

  const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({
    exporter: metricExporter,
    exportIntervalMillis: 3_600_000,
    ...(options.metricProducers === undefined ? {} : { metricProducers: options.metricProducers }),
  });
  const meterProvider = new MeterProvider({ readers: [reader] });
  metrics.setGlobalMeterProvider(meterProvider);

  return {
    spans: () => spanExporter.getFinishedSpans(),
    collect: async () => {
      const { resourceMetrics } = await reader.collect();
      return resourceMetrics.scopeMetrics
        .filter((scope) => scope.scope.name === 'otel-resilience')
        .flatMap((scope) => scope.metrics);
    },
    uninstall: async () => {
      trace.disable();
      context.disable();
      metrics.disable();
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
    },
  };
}

/** The data points of metric `name`, as `{ attributes, value }`. */
export function points(metricsData: MetricData[], name: string) {
  const metric = metricsData.find((m) => m.descriptor.name === name);
  return metric === undefined
    ? []
    : metric.dataPoints.map((p) => ({ attributes: p.attributes, value: p.value }));
}

/**
 * Installs a fresh SDK before each test of the enclosing `describe` and removes it after; the
 * returned object reads the SDK of the test that is running.
 */
export function useTestTelemetry(): Omit<TestTelemetry, 'uninstall'> {
  let current: TestTelemetry | undefined;
  beforeEach(() => {
    current = installTestTelemetry();
  });
  afterEach(async () => {
    await current?.uninstall();
    current = undefined;
  });
  const active = (): TestTelemetry => {
    if (current === undefined) throw new Error('useTestTelemetry() is read outside a test');
    return current;
  };
  return { spans: () => active().spans(), collect: () => active().collect() };
}

/**
 * Routes the OpenTelemetry diag logger to mocks at `level` (default WARN) and returns them;
 * call `diag.disable()` after the test.
 */
export function captureDiag(
  level: DiagLogLevel = DiagLogLevel.WARN,
): Record<'error' | 'warn' | 'info' | 'debug' | 'verbose', Mock<DiagLogFunction>> {
  const logger = { error: vi.fn(), warn: vi.fn(), info: vi.fn(), debug: vi.fn(), verbose: vi.fn() };
  diag.setLogger(logger, level);
  return logger;
}
