/**
 * The Koa example service as a process: prints `listening http://127.0.0.1:PORT` as its first
 * line (what a test or a script waits for), then where the upstream, its control endpoint and the
 * metrics are, and runs until SIGINT or SIGTERM.
 *
 *   PORT=8080 DATABASE_URL=postgres://... UPSTREAM_URL=http://... OTEL_TRACES_CONSOLE=1 tsx src/main.ts
 */
import { serviceOptionsFromEnv } from 'examples-shared/settings';
import { startKoaService } from './start.js';

const service = await startKoaService(serviceOptionsFromEnv());
console.log(`listening ${service.url}`);
console.log(`upstream ${service.upstream.url} (faults: POST ${service.upstream.url}/__control)`);
console.log(`metrics ${service.url}/metrics`);
console.log(`database ${service.database.system} ${service.database.location}`);
console.log(`traces ${service.telemetry.traces.join(', ')}`);

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: stopping`);
  await service.close();
  await service.telemetry.shutdown();
  process.exit(0);
};
process.once('SIGINT', () => void stop('SIGINT'));
process.once('SIGTERM', () => void stop('SIGTERM'));
