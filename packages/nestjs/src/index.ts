/**
 * @obs/nestjs: NestJS glue for @obs/core, on platform-express and platform-fastify.
 *
 * ```ts
 * // app.module.ts
 * @Module({ imports: [ObservabilityModule.forRoot()], controllers: [UsersController] })
 * export class AppModule {}
 *
 * // main.ts
 * const app = await NestFactory.create(AppModule, { bufferLogs: true });
 * app.useLogger(app.get(ObsLoggerService));
 * app.enableShutdownHooks();
 * await app.listen(Number(process.env.PORT ?? 3000));
 * ```
 * Start the process with `node --import @obs/register dist/main.js`.
 */

// The core API, so that a Nest app needs only this package: `import { getObs } from '@obs/nestjs'`.
// With the built-in health checks: `getObs().health.add(postgresCheck(pool))`.
export {
  amqpCheck,
  getObs,
  HealthCheckError,
  httpCheck,
  mysqlCheck,
  type Obs,
  type ObservedRequest,
  type ObsLogger,
  type ObsOptions,
  postgresCheck,
  redisCheck,
  start,
  withSpan,
} from '@obs/core';
export { ObsExceptionFilter, ObsExceptionInterceptor } from './errors.js';
export { observedRequestOf } from './http.js';
export { ObsLoggerService } from './logger.js';
export { ObservabilityModule } from './module.js';
export {
  OBS_MODULE_OPTIONS,
  type ObservabilityModuleAsyncOptions,
  type ObservabilityModuleOptions,
  type ResolvedObservabilityOptions,
} from './options.js';
