/**
 * The Koa example service as a process: prints `listening http://127.0.0.1:PORT` as its first
 * line (what a test or a script waits for), then where the upstream, its control endpoint and the
 * metrics are, and runs until SIGINT or SIGTERM.
 *
 *   PORT=8080 DATABASE_URL=postgres://... UPSTREAM_URL=http://... OTEL_TRACES_CONSOLE=1 tsx src/main.ts
 */
import { runServiceProcess } from 'examples-shared/serviceProcess';
import { startKoaService } from './start.js';

await runServiceProcess(startKoaService);
