/**
 * Entry point: `node --import @obs/register src/server.js` (the `start` script). PORT sets the port.
 */
import { createApp } from './app.js';
import { connectDependencies } from './dependencies.js';

const port = Number(process.env.PORT ?? 3000);
await connectDependencies(); // DATABASE_URL, REDIS_URL, AMQP_URL: clients and readiness checks, when set
const app = await createApp();
await app.listen({ port, host: '0.0.0.0' });
