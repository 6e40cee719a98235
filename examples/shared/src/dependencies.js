/**
 * The service's dependencies: PostgreSQL (`DATABASE_URL`, ./database.js), Redis (`REDIS_URL`,
 * ./cache.js) and RabbitMQ (`AMQP_URL`, ./queue.js), each in memory when its variable is not set.
 * Each real one gets a readiness check, and is closed at shutdown, after in-flight requests have
 * drained. A dependency that is down does not stop the service from starting: readiness reports it
 * (503) until it is back.
 */
import { getObs } from '@obs/core';
import { connectUserCache, memoryUserCache } from './cache.js';
import { connectDatabase, memoryDatabase } from './database.js';
import { connectOrderQueue, memoryOrderQueue } from './queue.js';

/** Connect what is configured: `{ database, userCache, orders }` for the app. */
export async function connectDependencies() {
  const obs = getObs();
  const { DATABASE_URL, REDIS_URL, AMQP_URL, ORDERS_QUEUE } = process.env;
  const database = DATABASE_URL ? await connectDatabase(DATABASE_URL) : memoryDatabase();
  const userCache = REDIS_URL ? await connectUserCache(REDIS_URL) : memoryUserCache();
  const orders = AMQP_URL ? await connectOrderQueue(AMQP_URL, ORDERS_QUEUE || 'orders') : memoryOrderQueue();
  const closers = [orders, userCache, database].filter((dependency) => dependency.close);
  if (closers.length > 0) {
    obs.onShutdown(async () => {
      obs.logger.info('Closing dependencies');
      await Promise.allSettled(closers.map((dependency) => dependency.close()));
    });
  }
  return { database, userCache, orders };
}
