// Bare Fastify 5: one GET /users/:id JSON route, one pino line per request to /dev/null.
import Fastify from 'fastify';
import pino from 'pino';

const app = Fastify({
  loggerInstance: pino(pino.destination({ dest: '/dev/null', sync: false })),
  disableRequestLogging: true,
});
app.get('/users/:id', async (request) => {
  request.log.info({ user: request.params.id }, 'looking up user');
  return { id: request.params.id };
});
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
