/** Instrumentation scope name of every span and metric this package emits. */
export const SCOPE_NAME = 'otel-resilience';
/** Package version, reported as the instrumentation scope version (checked against package.json). */
export const VERSION = '0.1.0';
