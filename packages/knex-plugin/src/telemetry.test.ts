/*
 * The plugin beside @opentelemetry/instrumentation-knex: the instrumentation is registered before
 * Knex is loaded (it patches the module on require). The plugin's spans (one per logical query or
 * transaction, one per attempt) must parent the instrumentation's per-statement spans, never
 * duplicate them, and carry only bounded attributes.
 */
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { Knex } from 'knex';
import { constantBackoff } from 'otel-resilience';
import { afterAll, afterEach, beforeEach, expect, it } from 'vitest';
import {
  knexFactory,
  meterProvider,
  reader,
  spanExporter,
  tracerProvider,
  unregister,
} from './testing/knexInstrumentation.js';
import { withResilience } from './withResilience.js';

// Loaded only now: these load Knex, which the instrumentation must have patched first.
const { describeDatabase, POSTGRES, SQLITE } = await import('./testing/databases.js');
const { adminKnex, killConnection, pgConfig, uniqueName, waitForStatement } = await import(
  './testing/faults.js'
);

afterAll(async () => {
  unregister();
  await tracerProvider.shutdown();
  await meterProvider.shutdown();
});

const SECRET = 'secret-value-4711';

/** Every attribute value and event attribute value of `spans`, as strings. */
function recordedValues(spans: ReadableSpan[]): string[] {
  return spans.flatMap((span) => [
    ...Object.values(span.attributes).map(String),
    ...span.events.flatMap((event) => Object.values(event.attributes ?? {}).map(String)),
  ]);
}

function childrenOf(spans: ReadableSpan[], parent: ReadableSpan): ReadableSpan[] {
  return spans.filter((s) => s.parentSpanContext?.spanId === parent.spanContext().spanId);
}

await describeDatabase(SQLITE, 'telemetry beside instrumentation-knex', () => {
  let db: ReturnType<typeof withResilience<Knex>>;
  beforeEach(async () => {
    db = withResilience(knexFactory(SQLITE.config()), { name: 'orders-db' });
    await db.schema.createTable('orders', (t) => {
      t.integer('id').primary();
      t.string('note');
    });
    spanExporter.reset();
  });
  afterEach(async () => {
    await db.destroy();
  });

  it('one call span and one attempt span per query, parenting the instrumentation span', async () => {
    await db('orders').insert({ id: 1, note: SECRET });
    await db('orders').where({ note: SECRET }).select('id');
    const spans = spanExporter.getFinishedSpans();
    const calls = spans.filter((s) => s.name === 'resilience orders-db');
    expect(calls.map((s) => s.attributes)).toEqual([
      expect.objectContaining({
        'resilience.name': 'orders-db',
        'db.system.name': 'sqlite',
        'db.operation.name': 'INSERT',
        'resilience.outcome': 'success',
      }),
      expect.objectContaining({ 'db.system.name': 'sqlite', 'db.operation.name': 'SELECT' }),
    ]);
    for (const call of calls) {
      const [attempt, ...others] = childrenOf(spans, call);
      expect(others).toEqual([]);
      expect(attempt?.name).toBe('resilience orders-db attempt');
      expect(attempt?.attributes['db.collection.name']).toBe('orders');
      const statements = childrenOf(spans, attempt as ReadableSpan);
      expect(statements).toHaveLength(1); // the instrumentation's, not duplicated by the plugin
      expect(statements[0]?.instrumentationScope.name).toContain('knex');
    }
    const ours = spans.filter((s) => s.name.startsWith('resilience '));
    expect(recordedValues(ours).some((v) => v.includes(SECRET) || v.includes('select'))).toBe(
      false,
    );
  });

  it('a failed query records error.type and db.response.status_code, never the message', async () => {
    await db('orders').insert({ id: 1, note: 'a' });
    await expect(db('orders').insert({ id: 1, note: SECRET })).rejects.toThrow();
    const call = spanExporter
      .getFinishedSpans()
      .filter((s) => s.name === 'resilience orders-db')
      .at(-1) as ReadableSpan;
    expect(call.attributes).toMatchObject({
      'error.type': 'SQLITE_CONSTRAINT_PRIMARYKEY',
      'resilience.error.category': 'data',
      'resilience.outcome': 'failure',
    });
    const [attempt] = childrenOf(spanExporter.getFinishedSpans(), call);
    expect(attempt?.attributes['db.response.status_code']).toBe('SQLITE_CONSTRAINT_PRIMARYKEY');
    expect(recordedValues([call, attempt as ReadableSpan]).some((v) => v.includes(SECRET))).toBe(
      false,
    );
  });

  it('a transaction is one span with the statements of its run beneath', async () => {
    await db.transaction(async (trx) => {
      await trx('orders').insert({ id: 2, note: 'b' });
      await trx('orders').select('id');
    });
    const spans = spanExporter.getFinishedSpans();
    const call = spans.find((s) => s.name === 'resilience orders-db.transaction') as ReadableSpan;
    expect(call.attributes).toMatchObject({
      'db.system.name': 'sqlite',
      'resilience.outcome': 'success',
    });
    const [attempt] = childrenOf(spans, call);
    const statements = childrenOf(spans, attempt as ReadableSpan);
    expect(statements.length).toBeGreaterThanOrEqual(2);
    // Statements inside a transaction get no per-query spans of the plugin.
    expect(spans.filter((s) => s.name === 'resilience orders-db')).toEqual([]);
  });

  it('records call durations by operation, with db.system.name', async () => {
    await db('orders').insert({ id: 3, note: 'c' });
    const { resourceMetrics } = await reader.collect();
    const calls = resourceMetrics.scopeMetrics
      .flatMap((s) => s.metrics)
      .find((m) => m.descriptor.name === 'resilience.call.duration');
    expect(calls?.descriptor.unit).toBe('s');
    expect(calls?.dataPoints.map((p) => p.attributes)).toContainEqual({
      'resilience.name': 'orders-db',
      'resilience.outcome': 'success',
      'db.system.name': 'sqlite',
      'db.operation.name': 'INSERT',
    });
  });
});

await describeDatabase(POSTGRES, 'telemetry of a retried query', () => {
  it('two attempt spans, each with its own statement span; the first carries 57P01', async () => {
    const admin = adminKnex('postgresql');
    const db = withResilience(knexFactory(pgConfig(uniqueName('app'))), {
      retry: { backoff: constantBackoff(10) },
    });
    try {
      spanExporter.reset();
      const marker = uniqueName('m');
      const running = Promise.resolve(db.raw(`select pg_sleep(0.5) as ${marker}`));
      await killConnection(
        admin,
        'postgresql',
        await waitForStatement(admin, 'postgresql', marker),
      );
      await running;
      const spans = spanExporter.getFinishedSpans();
      const call = spans.find((s) => s.name === 'resilience knex') as ReadableSpan;
      expect(call.attributes).toMatchObject({
        'db.system.name': 'postgresql',
        'db.operation.name': 'SELECT',
        'resilience.outcome': 'success_after_retry',
        'resilience.attempts': 2,
      });
      const attempts = childrenOf(spans, call);
      // The killed backend's 57P01 usually arrives before the socket closes; when the close wins,
      // pg reports a code-less "Connection terminated" and there is no status code to record.
      expect(['57P01', 'connection_terminated']).toContain(attempts[0]?.attributes['error.type']);
      expect(attempts[1]?.attributes['error.type']).toBeUndefined();
      for (const attempt of attempts) expect(childrenOf(spans, attempt)).toHaveLength(1);
    } finally {
      await db.destroy();
      await admin.destroy();
    }
  });
});
