/**
 * Entry point: `node --import @obs/register src/server.js` (the `start` script). PORT sets the port.
 */

import { connectDependencies } from '@obs/example-shared/dependencies.js';
import { createApp } from './app.js';

const port = Number(process.env.PORT ?? 3000);
// DATABASE_URL, REDIS_URL, AMQP_URL: clients and readiness checks when set, else in memory
const dependencies = await connectDependencies();
const app = await createApp(dependencies);
await app.listen({ port, host: '0.0.0.0' });
