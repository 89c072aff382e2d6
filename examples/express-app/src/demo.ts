/**
 * The demo (`pnpm demo` at the repository root): the Express service, its flaky upstream and its
 * SQLite database in this process, driven through healthy, brownout, outage and recovery phases
 * with a live view of what the suite does, then a summary. See the README for the variables.
 */
import { runDemo } from 'examples-shared/demo';
import { startExpressService, startExpressTelemetry } from './start.js';

const telemetry = startExpressTelemetry();
await runDemo({ framework: 'Express', start: startExpressService, traces: telemetry.traces });
await telemetry.shutdown();
