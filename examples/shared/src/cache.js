/**
 * The users cache, `getObs().data.cache('users', store)`: in Redis when `REDIS_URL` is set, else in a
 * Map in memory; entries live 60 s either way. Every read counts in
 * `cache_requests_total{cache_name="users", cache_result="hit"|"miss"|"error"}`. A Redis that is down
 * costs no request: its reads count as `error` and the users come from the database.
 */
import { getObs, redisCheck } from '@obs/core';

const TTL_SECONDS = 60;
const MEMORY_ENTRIES = 10_000;

/** The users cache in memory (no `REDIS_URL`). */
export function memoryUserCache() {
  const entries = new Map(); // key -> { user, expires }
  return getObs().data.cache('users', {
    get(key) {
      const entry = entries.get(key);
      if (entry && entry.expires <= Date.now()) {
        entries.delete(key);
        return undefined;
      }
      return entry?.user;
    },
    set(key, user) {
      if (!user) return; // unknown users are not cached
      if (entries.size >= MEMORY_ENTRIES) entries.delete(entries.keys().next().value);
      entries.set(key, { user, expires: Date.now() + TTL_SECONDS * 1000 });
    },
  });
}

/** The users cache in Redis: the client, its readiness check, and `close()` for the shutdown. */
export async function connectUserCache(url) {
  const obs = getObs();
  const { Redis } = await import('ioredis');
  // commandTimeout: a Redis that hangs fails the read (counted as error) instead of the request
  const redis = new Redis(url, { connectTimeout: 2000, commandTimeout: 1000, maxRetriesPerRequest: 1 });
  redis.on('error', () => {}); // ioredis reconnects by itself; the readiness check reports the outage
  obs.health.add(redisCheck(redis));
  const cache = obs.data.cache('users', {
    get: async (key) => JSON.parse((await redis.get(`user:${key}`)) ?? 'null'),
    set: async (key, user) => {
      if (user) await redis.set(`user:${key}`, JSON.stringify(user), 'EX', TTL_SECONDS);
    },
  });
  return Object.assign(cache, { close: () => redis.disconnect() });
}
