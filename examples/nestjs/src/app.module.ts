import type { IncomingMessage } from 'node:http';
import { Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { ObservabilityModule } from '@obs/nestjs';
import { AuthController } from './auth.controller.js';
import { UserCache } from './cache.js';
import { Database } from './database.js';
import { DemoController } from './demo.controller.js';
import { Dependencies } from './dependencies.js';
import { ContractErrorFilter } from './errors.js';
import { InProcessController } from './in-process.controller.js';
import { OrdersController } from './orders.controller.js';
import { OrderQueue } from './queue.js';
import { UsersController } from './users.controller.js';

/**
 * The @obs reference service on NestJS. Every adapter's example implements the same contract
 * (docs/reference-service.md); the conformance suite runs against all of them.
 */
@Module({
  // GET /health/live, /health/ready, /metrics; request observation; error reporting; the Nest logger
  // the completion line carries the tenant and, redacted, the session token (docs/reference-service.md)
  imports: [
    ObservabilityModule.forRoot({
      fields: (req: IncomingMessage) => ({
        'tenant.id': req.headers['x-tenant-id'],
        session_token: req.headers['x-session-token'],
      }),
    }),
  ],
  controllers: [UsersController, AuthController, OrdersController, DemoController, InProcessController],
  // Nest's error bodies ({"statusCode":404,"message":...}) shaped to the contract's ({"error":...})
  providers: [
    { provide: APP_FILTER, useClass: ContractErrorFilter },
    // DATABASE_URL, REDIS_URL, AMQP_URL: clients and readiness checks when set, else in memory;
    // Dependencies closes them at shutdown
    Database,
    UserCache,
    OrderQueue,
    Dependencies,
  ],
})
export class AppModule {}
