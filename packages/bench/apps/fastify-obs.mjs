// Fastify 5 with @obs (run under --import @obs/register).
import { errorHandler, notFoundHandler, obsFastifyOptions, obsPlugin } from '@obs/fastify';
import Fastify from 'fastify';

const app = Fastify({ ...obsFastifyOptions() });
await app.register(obsPlugin);
app.setErrorHandler(errorHandler());
app.setNotFoundHandler(notFoundHandler());
app.get('/users/:id', async (request) => ({ id: request.params.id }));
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
