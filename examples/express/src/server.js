/**
 * Entry point: `node --import @obs/register src/server.js` (the `start` script). PORT sets the port.
 */
import { getObs } from '@obs/express';
import { createApp } from './app.js';
import { connectDependencies } from './dependencies.js';

await connectDependencies(); // DATABASE_URL, REDIS_URL, AMQP_URL: clients and readiness checks, when set

const port = Number(process.env.PORT ?? 3000);
const server = createApp().listen(port, () => {
  getObs().logger.info({ port: server.address().port }, 'listening');
});
