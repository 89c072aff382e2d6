import { SpanKind, type SpanOptions, trace } from '@opentelemetry/api';
import { SCOPE_NAME, VERSION } from '../version.js';

/** The package's tracer; a proxy, so a TracerProvider registered later is picked up. */
export const tracer = trace.getTracer(SCOPE_NAME, VERSION);

/** Options shared by every call and attempt span. */
export const INTERNAL_SPAN: SpanOptions = Object.freeze({ kind: SpanKind.INTERNAL });
