/**
 * The service's real dependencies, when configured: `DATABASE_URL` (PostgreSQL, `pg`), `REDIS_URL`
 * (Redis, `ioredis`), `AMQP_URL` (RabbitMQ, `amqplib`). Each one gets a readiness check, and is
 * closed at shutdown, after in-flight requests have drained. A dependency that is down does not stop
 * the service from starting: readiness reports it (503) until it is back. Without these variables the
 * service runs in memory, as before.
 */
import { amqpCheck, getObs, postgresCheck, redisCheck } from '@obs/express';

/** Connect what is configured and register its readiness check. */
export async function connectDependencies() {
  const obs = getObs();
  const { DATABASE_URL, REDIS_URL, AMQP_URL } = process.env;
  const closers = [];
  if (DATABASE_URL) {
    const { default: pg } = await import('pg');
    // connectionTimeoutMillis: without it pg waits for an unanswered connection forever
    const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 5, connectionTimeoutMillis: 2000 });
    pool.on('error', (err) => obs.logger.warn({ err }, 'PostgreSQL connection lost'));
    obs.health.add(postgresCheck(pool));
    closers.push(() => pool.end());
  }
  if (REDIS_URL) {
    const { Redis } = await import('ioredis');
    const redis = new Redis(REDIS_URL, { connectTimeout: 2000, maxRetriesPerRequest: 1 });
    redis.on('error', () => {}); // ioredis reconnects by itself; the readiness check reports the outage
    obs.health.add(redisCheck(redis));
    closers.push(() => redis.disconnect());
  }
  if (AMQP_URL) {
    const amqp = await import('amqplib');
    // A recovering connection: reconnects by itself, also when the broker is down at start-up.
    const connection = await amqp.connect(AMQP_URL, { recovery: { waitForConnect: false, maxDelay: 5000 } });
    connection.on('error', () => {}); // the readiness check reports the outage
    obs.health.add(amqpCheck(connection));
    closers.push(() => connection.close());
  }
  if (closers.length > 0) {
    obs.onShutdown(async () => {
      obs.logger.info('Closing dependencies');
      await Promise.allSettled(closers.map((close) => close()));
    });
  }
}
