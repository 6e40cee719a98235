import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { UserCache } from './cache.js';
import { Database } from './database.js';
import { OrderQueue } from './queue.js';

/**
 * The service's dependencies: PostgreSQL (`DATABASE_URL`, {@link Database}), Redis (`REDIS_URL`,
 * {@link UserCache}) and RabbitMQ (`AMQP_URL`, {@link OrderQueue}), each in memory when its variable
 * is not set. Each provider connects in its `onModuleInit()` and registers a readiness check; a
 * dependency that is down does not stop the service from starting: readiness reports it (503) until
 * it is back. They are closed here, in `onApplicationShutdown()`, Nest's hook that runs once the HTTP
 * server has drained.
 */
@Injectable()
export class Dependencies implements OnApplicationShutdown {
  readonly #logger = new Logger(Dependencies.name);

  constructor(
    @Inject(Database) private readonly database: Database,
    @Inject(UserCache) private readonly userCache: UserCache,
    @Inject(OrderQueue) private readonly orders: OrderQueue,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    const connected = [this.orders, this.userCache, this.database].filter((dependency) => dependency.connected);
    if (connected.length === 0) return;
    this.#logger.log('Closing dependencies');
    await Promise.allSettled(connected.map((dependency) => dependency.close()));
  }
}
