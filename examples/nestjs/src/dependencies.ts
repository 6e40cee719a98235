import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { amqpCheck, getObs, postgresCheck, redisCheck } from '@obs/nestjs';

/**
 * The service's real dependencies, when configured: `DATABASE_URL` (PostgreSQL, `pg`), `REDIS_URL`
 * (Redis, `ioredis`), `AMQP_URL` (RabbitMQ, `amqplib`). Each one gets a readiness check. They are
 * closed in `onApplicationShutdown()`, Nest's hook that runs once the HTTP server has drained. A
 * dependency that is down does not stop the service from starting: readiness reports it (503) until
 * it is back. Without these variables the service runs in memory, as before.
 */
@Injectable()
export class Dependencies implements OnModuleInit, OnApplicationShutdown {
  readonly #logger = new Logger(Dependencies.name);
  readonly #closers: (() => unknown)[] = [];

  async onModuleInit(): Promise<void> {
    const obs = getObs();
    const { DATABASE_URL, REDIS_URL, AMQP_URL } = process.env;
    if (DATABASE_URL) {
      const { default: pg } = await import('pg');
      // connectionTimeoutMillis: without it pg waits for an unanswered connection forever
      const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 5, connectionTimeoutMillis: 2000 });
      pool.on('error', (err) => this.#logger.warn('PostgreSQL connection lost', { err }));
      obs.health.add(postgresCheck(pool));
      this.#closers.push(() => pool.end());
    }
    if (REDIS_URL) {
      const { Redis } = await import('ioredis');
      const redis = new Redis(REDIS_URL, { connectTimeout: 2000, maxRetriesPerRequest: 1 });
      redis.on('error', () => {}); // ioredis reconnects by itself; the readiness check reports the outage
      obs.health.add(redisCheck(redis));
      this.#closers.push(() => redis.disconnect());
    }
    if (AMQP_URL) {
      const amqp = await import('amqplib');
      // A recovering connection: reconnects by itself, also when the broker is down at start-up.
      const connection = await amqp.connect(AMQP_URL, { recovery: { waitForConnect: false, maxDelay: 5000 } });
      connection.on('error', () => {}); // the readiness check reports the outage
      obs.health.add(amqpCheck(connection));
      this.#closers.push(() => connection.close());
    }
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.#closers.length === 0) return;
    this.#logger.log('Closing dependencies');
    await Promise.allSettled(this.#closers.map(async (close) => close()));
  }
}
