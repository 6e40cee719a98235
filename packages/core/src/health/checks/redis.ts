/**
 * Redis through `ioredis` (`Redis`, `Cluster`) or `redis` (node-redis `createClient()`): `PING`.
 * Nothing is imported from either. A client that is not connected fails at once, whatever its
 * offline queue would do with the `PING`.
 */
import { type HealthCheck, HealthCheckError } from '../registry.js';
import { type CheckOptions, makeCheck } from './common.js';

/** The part of an ioredis or node-redis client the check uses. */
export interface RedisPingable {
  ping(): Promise<unknown>;
  /** ioredis: `wait`, `connecting`, `connect`, `ready`, `reconnecting`, `close`, `end`. */
  status?: unknown;
  /** node-redis. */
  isReady?: unknown;
  /** node-redis. */
  isOpen?: unknown;
}

/**
 * A check that sends `PING` (default name `redis`).
 *
 * ```js
 * const redis = new Redis(process.env.REDIS_URL); // ioredis, or: await createClient({ url }).connect()
 * getObs().health.add(redisCheck(redis));
 * ```
 */
export function redisCheck(client: RedisPingable, options: CheckOptions = {}): HealthCheck {
  if (!client || typeof client.ping !== 'function')
    throw new TypeError('redisCheck needs an ioredis or node-redis client');
  return makeCheck('redis', options, async () => {
    const { status, isReady, isOpen } = client;
    // ioredis: `wait` is a lazy client that the PING connects.
    if (typeof status === 'string' && status !== 'ready' && status !== 'wait') {
      throw new HealthCheckError(`not connected (${status})`);
    }
    if (typeof isReady === 'boolean' && !isReady) {
      throw new HealthCheckError(isOpen === false ? 'not connected (closed)' : 'not connected (reconnecting)');
    }
    await client.ping();
  });
}
