/**
 * The demo (`pnpm --filter koa-app-example run demo`): the Koa service, its flaky upstream and its
 * SQLite database in this process, driven through healthy, brownout, outage and recovery phases
 * with a live view of what the suite does, then a summary. See the README for the variables.
 */
import { runDemo } from 'examples-shared/demo';
import { startKoaService, startKoaTelemetry } from './start.js';

const telemetry = startKoaTelemetry();
await runDemo({ framework: 'Koa', start: startKoaService, traces: telemetry.traces });
await telemetry.shutdown();
