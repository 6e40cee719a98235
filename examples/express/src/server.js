/**
 * Entry point: `node --import @obs/register src/server.js` (the `start` script). PORT sets the port.
 */

import { connectDependencies } from '@obs/example-shared/dependencies.js';
import { getObs } from '@obs/express';
import { createApp } from './app.js';

// DATABASE_URL, REDIS_URL, AMQP_URL: clients and readiness checks when set, else in memory
const dependencies = await connectDependencies();

const port = Number(process.env.PORT ?? 3000);
const server = createApp(dependencies).listen(port, () => {
  getObs().logger.info({ port: server.address().port }, 'listening');
});
