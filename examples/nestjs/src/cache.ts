import { Injectable, type OnModuleInit } from '@nestjs/common';
import { getObs, redisCheck } from '@obs/nestjs';
import type { Redis } from 'ioredis';
import type { User } from './database.js';

const TTL_SECONDS = 60;
const MEMORY_ENTRIES = 10_000;

/**
 * The users cache, `getObs().data.cache('users', store)`: in Redis when `REDIS_URL` is set, else in a
 * Map in memory; entries live 60 s either way. Every read counts in
 * `cache_requests_total{cache_name="users", cache_result="hit"|"miss"|"error"}`. A Redis that is down
 * costs no request: its reads count as `error` and the users come from the database. The client is
 * closed by {@link Dependencies} at shutdown.
 */
@Injectable()
export class UserCache implements OnModuleInit {
  #redis: Redis | undefined;
  #cache = this.#memory();

  async onModuleInit(): Promise<void> {
    const url = process.env.REDIS_URL;
    if (!url) return;
    const obs = getObs();
    const { Redis } = await import('ioredis');
    // commandTimeout: a Redis that hangs fails the read (counted as error) instead of the request
    const redis = new Redis(url, { connectTimeout: 2000, commandTimeout: 1000, maxRetriesPerRequest: 1 });
    redis.on('error', () => {}); // ioredis reconnects by itself; the readiness check reports the outage
    obs.health.add(redisCheck(redis));
    this.#redis = redis;
    this.#cache = obs.data.cache<User | null>('users', {
      get: async (key) => JSON.parse((await redis.get(`user:${key}`)) ?? 'null') as User | null,
      set: async (key, user) => {
        if (user) await redis.set(`user:${key}`, JSON.stringify(user), 'EX', TTL_SECONDS);
      },
    });
  }

  /** The users cache in memory (no `REDIS_URL`). */
  #memory() {
    const entries = new Map<string, { user: User; expires: number }>();
    return getObs().data.cache<User | null>('users', {
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
        const oldest = entries.keys().next();
        if (entries.size >= MEMORY_ENTRIES && !oldest.done) entries.delete(oldest.value);
        entries.set(key, { user, expires: Date.now() + TTL_SECONDS * 1000 });
      },
    });
  }

  /** The cached user, or the loaded one (then cached); counted as a hit or a miss. */
  get(key: string, load: (key: string) => Promise<User | null>): Promise<User | null> {
    return this.#cache.get(key, load);
  }

  /** Whether there is something to close. */
  get connected(): boolean {
    return this.#redis !== undefined;
  }

  async close(): Promise<void> {
    this.#redis?.disconnect();
  }
}
