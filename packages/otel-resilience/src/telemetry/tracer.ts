import { type Tracer, type TracerProvider, trace } from '@opentelemetry/api';
import { SCOPE_NAME, VERSION } from '../version.js';

let cachedProvider: TracerProvider | undefined;
let cachedTracer: Tracer | undefined;

/**
 * The package's tracer from the current global TracerProvider. Cached by provider identity: the
 * API swaps its proxy provider on `trace.disable()`, and a tracer taken from the old proxy would
 * never see a provider registered afterwards.
 */
export function tracer(): Tracer {
  const provider = trace.getTracerProvider();
  if (provider !== cachedProvider || cachedTracer === undefined) {
    cachedProvider = provider;
    cachedTracer = provider.getTracer(SCOPE_NAME, VERSION);
  }
  return cachedTracer;
}
