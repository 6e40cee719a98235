/**
 * Compile-time check (run by `tsc -p tsconfig.json`, never executed): the documented set-up
 * type-checks in a TypeScript app, with Fastify's own types inferred from obsFastifyOptions().
 */
import Fastify from 'fastify';
import { errorHandler, notFoundHandler, type ObsPluginOptions, obsFastifyOptions, obsPlugin } from '../src/index.js';

export async function typedSetup(): Promise<void> {
  const app = Fastify({ ...obsFastifyOptions(), bodyLimit: 1024 });
  const options: ObsPluginOptions = { livePath: '/livez', metricsPath: false };
  await app.register(obsPlugin, options);
  app.setErrorHandler(errorHandler());
  app.setNotFoundHandler(notFoundHandler());
  app.get<{ Params: { id: string } }>('/users/:id', async (request) => {
    request.log.info({ id: request.params.id }, 'typed');
    const id: string = request.id;
    return { id };
  });
  // @ts-expect-error metricsPath is a path or false
  await app.register(obsPlugin, { metricsPath: true });
}
