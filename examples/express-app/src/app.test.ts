/*
 * The Express service in this process, with its flaky upstream and SQLite database, checked
 * through HTTP only: what a client, a load balancer and Prometheus see.
 */
import { describeServiceInProcess } from 'examples-shared/serviceSuite';
import { startExpressService } from './start.js';

describeServiceInProcess({
  framework: 'Express',
  serviceName: 'express-app-example',
  start: startExpressService,
});
