/**
 * Cache hit and miss counts. The Redis instrumentations trace each command, but only the app knows
 * whether a `GET` that answered nothing was a miss (a `GET` of a key that holds an empty string was
 * not). The app says so through this helper, around its reads or as a get-or-load wrapper:
 * `cache.requests{cache.name, cache.result}` with `cache.result` one of `hit`, `miss`, `error`.
 *
 * There is no OpenTelemetry semantic convention for cache hits: the names are @obs's (docs/data.md).
 */
import { diagnose } from '../diag.js';
import { opentelemetry } from '../otel.js';
import { counter, METRICS } from './meter.js';

const { trace } = opentelemetry;

/** Outcome of a cache read. */
export type CacheResult = 'hit' | 'miss' | 'error';

/** Counting only: the app reads its cache itself and reports what happened. */
export interface CacheCounter {
  /** `cache.name`: a fixed name for the cache (`users`), never a key. */
  readonly name: string;
  /** Count `n` hits (default 1). */
  hit(n?: number): void;
  /** Count `n` misses (default 1). */
  miss(n?: number): void;
  /** Count a read that failed (the cache was down or answered garbage). */
  error(n?: number): void;
  /**
   * Count one read by its value (`undefined` and `null` are misses, anything else a hit) and return
   * the value, so the read can be wrapped in place: `const user = users.record(await redis.get(key))`.
   */
  record<V>(value: V | null | undefined): V | null | undefined;
}

/** Where a get-or-load cache keeps its values. */
export interface CacheStore<T> {
  /** The cached value, or `undefined`/`null` when there is none. */
  get(key: string): Promise<T | null | undefined> | T | null | undefined;
  /** Keep a value just loaded (with whatever expiry the store applies). */
  set(key: string, value: T): Promise<unknown> | unknown;
}

/** A get-or-load cache over a store. */
export interface Cache<T> extends CacheCounter {
  /**
   * The cached value of `key`, or the loaded one (which is then stored). Counts a hit or a miss; a
   * store read that throws counts as `error` and falls through to the loader; a store write that
   * throws is ignored (the request still gets the loaded value). The loader's own errors propagate.
   */
  get(key: string, load: (key: string) => Promise<T> | T): Promise<T>;
}

const CACHE_NAME = /^[A-Za-z0-9_.:/-]{1,64}$/;

function count(name: string, result: CacheResult, n: number): void {
  if (!(n > 0)) return;
  counter(METRICS.cacheRequests).add(n, { 'cache.name': name, 'cache.result': result });
}

function validName(name: string): string {
  if (typeof name !== 'string' || !CACHE_NAME.test(name)) {
    throw new TypeError(
      `cache name ${JSON.stringify(name)} is not valid: use a short fixed name ([A-Za-z0-9_.:/-], at most 64 characters), never a key`,
    );
  }
  return name;
}

/**
 * A cache's hit/miss counter; with a store, also a get-or-load wrapper.
 *
 * ```js
 * const users = getObs().data.cache('users', {
 *   get: async (id) => JSON.parse((await redis.get(`user:${id}`)) ?? 'null'),
 *   set: (id, user) => redis.set(`user:${id}`, JSON.stringify(user), 'EX', 60),
 * });
 * const user = await users.get(id, (id) => db.findUser(id)); // counts a hit or a miss
 * ```
 * @param name `cache.name` label: a fixed name, never a key
 * @throws TypeError for a name that is not a short fixed string
 */
export function cache(name: string): CacheCounter;
export function cache<T>(name: string, store: CacheStore<T>): Cache<T>;
export function cache<T>(name: string, store?: CacheStore<T>): CacheCounter | Cache<T> {
  const cacheName = validName(name);
  const counting: CacheCounter = {
    name: cacheName,
    hit: (n = 1) => count(cacheName, 'hit', n),
    miss: (n = 1) => count(cacheName, 'miss', n),
    error: (n = 1) => count(cacheName, 'error', n),
    record: (value) => {
      count(cacheName, value === undefined || value === null ? 'miss' : 'hit', 1);
      return value;
    },
  };
  if (!store) return counting;
  if (typeof store.get !== 'function' || typeof store.set !== 'function') {
    throw new TypeError('a cache store needs get(key) and set(key, value)');
  }
  return {
    ...counting,
    async get(key, load) {
      let cached: T | null | undefined;
      let result: CacheResult;
      try {
        cached = await store.get(key);
        result = cached === undefined || cached === null ? 'miss' : 'hit';
      } catch (err) {
        result = 'error';
        diagnose('warn', `cache ${cacheName}: read failed (${err instanceof Error ? err.message : String(err)})`);
      }
      count(cacheName, result, 1);
      trace.getActiveSpan()?.addEvent('cache', { 'cache.name': cacheName, 'cache.result': result });
      if (result === 'hit') return cached as T;
      const value = await load(key);
      try {
        await store.set(key, value);
      } catch (err) {
        diagnose('warn', `cache ${cacheName}: write failed (${err instanceof Error ? err.message : String(err)})`);
      }
      return value;
    },
  };
}
