/**
 * Database, cache and queue telemetry (`obs.data`): what the curated pg, mysql2, ioredis, redis and
 * amqplib instrumentations do not record by themselves. See docs/data.md.
 */
import type { ObsLogger } from '../logging/logger.js';
import { type Cache, type CacheCounter, type CacheStore, cache } from './cache.js';
import { instrumentPool, type PoolOptions } from './pools.js';
import {
  type AmqpChannelSource,
  type AmqpConsumerChannel,
  type AmqpMessage,
  type ConsumeOptions,
  consume,
  type QueueDepthOptions,
  type QueueDepthWatch,
  watchQueueDepth,
} from './queue.js';

/** `obs.data`. */
export interface DataTelemetry {
  /**
   * Report a pool's connections (`db.client.connection.*`) under a name of your choice: a `pg.Pool`,
   * a `mysql2` pool, or the client that holds one (knex, a TypeORM `DataSource`, `Sequelize`,
   * MikroORM; for Prisma, the pool given to its driver adapter). `pg` and `mysql2` pools are also
   * found by themselves on first use, named `host:port/database`; knex and Sequelize pools are not.
   * @returns a function that stops reporting the pool
   */
  instrumentPool(pool: object, options?: PoolOptions): () => void;
  /**
   * A cache's hit/miss counter (`cache.requests`); with a store, also a get-or-load wrapper.
   * @param name a fixed name (`users`), never a key
   */
  cache: {
    (name: string): CacheCounter;
    <T>(name: string, store: CacheStore<T>): Cache<T>;
  };
  /**
   * Consume an amqplib queue: the handler runs in the consumer span (same trace as the publisher),
   * the message is acked when it resolves and nacked (not requeued, unless `requeue`) when it throws;
   * `messaging.process.duration` and `messaging.client.consumed.messages` are recorded. Handler
   * errors are logged with the process logger unless `onError` is given.
   */
  consume<M extends AmqpMessage>(
    channel: AmqpConsumerChannel<M>,
    queue: string,
    handler: (message: M) => unknown,
    options?: ConsumeOptions,
  ): Promise<{ consumerTag: string }>;
  /** Report the depth and consumer count of queues (`messaging.queue.*`), read in the background. */
  watchQueueDepth(
    connection: AmqpChannelSource,
    queues: readonly string[],
    options?: QueueDepthOptions,
  ): QueueDepthWatch;
}

/** Build `obs.data`; `logger` gives the process logger (for consumer errors). */
export function createDataTelemetry(logger: () => ObsLogger): DataTelemetry {
  return {
    instrumentPool,
    cache,
    consume: (channel, queue, handler, options = {}) =>
      consume(channel, queue, handler, {
        onError: (err) => logger().error({ err, queue }, 'processing a message failed'),
        ...options,
      }),
    watchQueueDepth,
  };
}

export type { CacheResult } from './cache.js';
export { DATA_VIEWS } from './pools.js';
export type { AmqpQueueChannel } from './queue.js';
export { type SqlDialect, type SqlSummary, sanitizeSql, summarizeSql } from './sql.js';
export type {
  AmqpChannelSource,
  AmqpConsumerChannel,
  AmqpMessage,
  Cache,
  CacheCounter,
  CacheStore,
  ConsumeOptions,
  PoolOptions,
  QueueDepthOptions,
  QueueDepthWatch,
};
