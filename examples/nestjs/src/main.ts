/**
 * Entry point: `node --import @obs/register dist/main.js` (the `start` script, after `build`).
 * `PORT` sets the port (default 3000); `NEST_PLATFORM=fastify` runs the same app on platform-fastify
 * instead of platform-express.
 */
import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { getObs, ObsLoggerService } from '@obs/nestjs';
import { AppModule } from './app.module.js';

const platform = process.env.NEST_PLATFORM === 'fastify' ? 'fastify' : 'express';

async function createApp(): Promise<INestApplication> {
  // bufferLogs: Nest's start-up lines wait for the @obs logger below.
  if (platform === 'fastify') {
    const { FastifyAdapter } = await import('@nestjs/platform-fastify');
    return NestFactory.create(AppModule, new FastifyAdapter(), { bufferLogs: true });
  }
  return NestFactory.create(AppModule, { bufferLogs: true });
}

const app = await createApp();
app.useLogger(app.get(ObsLoggerService));
// Nest's SIGTERM/SIGINT handling: readiness 503, the shutdown delay and the drain of the HTTP server
// (@obs, in the adapter's beforeClose), then Nest's hooks (Dependencies closes its clients in
// onApplicationShutdown), then @obs flushes its telemetry and the process ends by the signal
// (see docs/kubernetes.md).
app.enableShutdownHooks();
const port = Number(process.env.PORT ?? 3000);
await app.listen(port, '0.0.0.0');
getObs().logger.info({ port, platform }, 'listening');
