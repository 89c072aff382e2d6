import type { ExampleService } from './service.js';
import { type ServiceEnvOptions, serviceOptionsFromEnv } from './settings.js';
import type { Telemetry } from './telemetry.js';

/**
 * Runs an example service as a process: starts it with the options from the environment, prints
 * `listening http://127.0.0.1:PORT` as the first line (what a test or a script waits for), then
 * where the upstream, its control endpoint, the metrics and the database are, and stops cleanly
 * on SIGINT or SIGTERM.
 */
export async function runServiceProcess(
  start: (
    options: ServiceEnvOptions,
  ) => Promise<ExampleService & { readonly telemetry: Telemetry }>,
): Promise<void> {
  const service = await start(serviceOptionsFromEnv());
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
}
