/*
 * Test support: a real SDK with in-memory exporters and @opentelemetry/instrumentation-knex,
 * registered when this module is evaluated. Import it before any module that loads Knex: the
 * instrumentation patches Knex's files as they are required.
 */
import { createRequire } from 'node:module';
import { context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { KnexInstrumentation } from '@opentelemetry/instrumentation-knex';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { Knex } from 'knex';

export const spanExporter = new InMemorySpanExporter();
export const tracerProvider = new NodeTracerProvider({
  spanProcessors: [new SimpleSpanProcessor(spanExporter)],
});
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(tracerProvider);
export const reader = new PeriodicExportingMetricReader({
  exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
  exportIntervalMillis: 3_600_000,
});
export const meterProvider = new MeterProvider({ readers: [reader] });
metrics.setGlobalMeterProvider(meterProvider);
export const unregister = registerInstrumentations({
  instrumentations: [new KnexInstrumentation()],
  tracerProvider,
});
/** Knex, loaded after the instrumentation patched it. */
export const knexFactory = createRequire(import.meta.url)('knex') as (config: Knex.Config) => Knex;
