/**
 * Helpers for this package's tests (not exported by the package).
 */

import type { MetricData } from '@opentelemetry/sdk-metrics';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { vi } from 'vitest';

/** A Node-style error with a code, as sockets and DNS raise them. */
export function codeError(code: string, message = code): Error {
  return Object.assign(new Error(message), { code });
}

/** The spans of one name, in start order. */
export function spansNamed(spans: readonly ReadableSpan[], name: string): ReadableSpan[] {
  return spans.filter((s) => s.name === name).sort((a, b) => compareTime(a, b));
}

/** Events of a span as `[name, attributes]`. */
export function eventsOf(span: ReadableSpan | undefined): Array<[string, unknown]> {
  return (span?.events ?? []).map((e) => [e.name, e.attributes]);
}

const KINDS = ['INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];

/**
 * The span forest as indented lines `KIND name`, children in start order: the shape a test
 * compares in one assertion.
 */
export function spanTree(spans: readonly ReadableSpan[]): string[] {
  const ids = new Set(spans.map((s) => s.spanContext().spanId));
  const children = new Map<string | undefined, ReadableSpan[]>();
  for (const span of spans) {
    const parentId = span.parentSpanContext?.spanId;
    const key = parentId !== undefined && ids.has(parentId) ? parentId : undefined;
    children.set(key, [...(children.get(key) ?? []), span]);
  }
  const lines: string[] = [];
  const visit = (parent: string | undefined, depth: number): void => {
    for (const span of (children.get(parent) ?? []).sort(compareTime)) {
      lines.push(`${'  '.repeat(depth)}${KINDS[span.kind]} ${span.name}`);
      visit(span.spanContext().spanId, depth + 1);
    }
  };
  visit(undefined, 0);
  return lines;
}

function compareTime(a: ReadableSpan, b: ReadableSpan): number {
  return a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1];
}

/** The histogram points of metric `name` as `{ attributes, count }`. */
export function histogramCounts(metrics: MetricData[], name: string) {
  const metric = metrics.find((m) => m.descriptor.name === name);
  return (metric?.dataPoints ?? []).map((p) => ({
    attributes: p.attributes,
    count: (p.value as { count: number }).count,
  }));
}

const realSetImmediate = globalThis.setImmediate;

/**
 * Waits until `condition` holds, under fake timers too: each turn runs the timers due now (nock
 * answers through 0 ms timers) without moving the clock, then lets real I/O happen. Bounded: fails
 * after 2 000 turns.
 */
export async function until(condition: () => boolean): Promise<void> {
  for (let turn = 0; turn < 2_000; turn++) {
    if (condition()) return;
    if (vi.isFakeTimers()) await vi.advanceTimersByTimeAsync(0);
    await new Promise((resolve) => realSetImmediate(resolve));
  }
  throw new Error('condition not met');
}
