import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type Sampler,
  SamplingDecision,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import axios from 'axios';
import nock from 'nock';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { attachResilience } from './index.js';

const exporter = new InMemorySpanExporter();
/** Records the application's spans and drops this package's: what a sampler may well do. */
const sampler: Sampler = {
  shouldSample: (_context, _traceId, name) => ({
    decision: name.startsWith('resilience ')
      ? SamplingDecision.NOT_RECORD
      : SamplingDecision.RECORD_AND_SAMPLED,
  }),
  toString: () => 'drop-resilience',
};
const provider = new BasicTracerProvider({
  sampler,
  spanProcessors: [new SimpleSpanProcessor(exporter)],
});

beforeAll(() => {
  nock.disableNetConnect();
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
});
afterAll(async () => {
  trace.disable();
  context.disable();
  nock.cleanAll();
  await provider.shutdown();
});

it("leaves the caller's span alone when its own spans are not recorded", async () => {
  nock('http://api.test').get('/a').reply(503).get('/a').reply(200);
  const api = axios.create();
  attachResilience(api, { name: 'sampled-out', retry: { random: () => 0 } });
  const tracer = trace.getTracer('app');
  await tracer.startActiveSpan('handler', async (span) => {
    await api.get('http://api.test/a', { resilience: { routeTemplate: '/a' } });
    span.end();
  });
  const spans = exporter.getFinishedSpans();
  expect(spans.map((s) => s.name)).toEqual(['handler']);
  expect(spans[0]?.attributes).toEqual({});
});
