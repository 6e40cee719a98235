/**
 * Entry point: `node --import @obs/register src/server.js` (the `start` script). PORT sets the port.
 */
import { createApp } from './app.js';

const port = Number(process.env.PORT ?? 3000);
const app = await createApp();
await app.listen({ port, host: '0.0.0.0' });
