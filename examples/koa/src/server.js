/**
 * Entry point: `node --import @obs/register src/server.js` (the `start` script). PORT sets the port.
 */
import { getObs } from '@obs/koa';
import { createApp } from './app.js';

const port = Number(process.env.PORT ?? 3000);
const server = createApp().listen(port, () => {
  getObs().logger.info({ port: server.address().port }, 'listening');
});
