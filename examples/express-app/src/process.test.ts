/*
 * The service and the demo as processes, the way the README, the root `pnpm demo` and an
 * end-to-end test run them.
 */
import { fileURLToPath } from 'node:url';
import { describeServiceProcesses } from 'examples-shared/processSuites';

describeServiceProcesses({
  here: fileURLToPath(new URL('..', import.meta.url)),
  framework: 'Express',
});
