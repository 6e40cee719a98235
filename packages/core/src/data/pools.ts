/**
 * Connection-pool usage of `pg.Pool` and `mysql2` pools as observable instruments, read from the
 * pools when metrics are collected (no I/O: the pools keep these counts in memory):
 * `db.client.connection.count` by state (`idle`, `used`), `db.client.connection.pending_requests`
 * and `db.client.connection.max`, labelled with `db.client.connection.pool.name`.
 *
 * Pools are found by themselves (the pg and mysql2 instrumentations register a pool when it is first
 * used, see tracing/instrumentations.ts) or registered with {@link instrumentPool}, which also names
 * them. instrumentation-pg records the same metric names from pool events, but the counts go stale
 * (its `release` handler runs before the pool has put the connection back) and one counter is shared
 * by all pools; its instruments are dropped by the view in {@link DATA_VIEWS}.
 */
import type { ViewOptions } from '@opentelemetry/sdk-metrics';
import { sdkMetrics } from '../otel.js';
import { METRICS, observeOnce } from './meter.js';

const { AggregationType } = sdkMetrics;

/** Options for {@link instrumentPool}. */
export interface PoolOptions {
  /**
   * `db.client.connection.pool.name`. Default `server.address:server.port/db.namespace` of the pool's
   * configuration, as the semantic conventions recommend (e.g. `db.internal:5432/shop`).
   */
  name?: string;
}

interface PoolState {
  idle: number;
  used: number;
  pending: number;
  /** Absent when the pool has no limit. */
  max?: number;
}

interface Entry {
  name: string;
  system: 'postgresql' | 'mysql';
  pool: WeakRef<object>;
  read(pool: object): PoolState | undefined;
  /** True once a maximum was reported for this pool. */
  reportedMax?: boolean;
}

const entries = new Set<Entry>();
const byPool = new WeakMap<object, Entry>();

type Len = { length: number };

/** pg-pool's public getters. */
interface PgPool {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
  ending?: boolean;
  ended?: boolean;
  options?: { max?: number; host?: string; port?: number | string; database?: string; connectionString?: string };
}

/** mysql2's core pool (`mysql2.createPool()`); the promise pool wraps one as `.pool`. */
interface MysqlPool {
  _allConnections: Len;
  _freeConnections: Len;
  _connectionQueue: Len;
  _closed?: boolean;
  config: { connectionLimit?: number; connectionConfig?: { host?: string; port?: number | string; database?: string } };
}

function isPgPool(pool: object): pool is PgPool {
  const p = pool as Partial<PgPool>;
  return typeof p.totalCount === 'number' && typeof p.idleCount === 'number' && typeof p.waitingCount === 'number';
}

function isMysqlPool(pool: object): pool is MysqlPool {
  const p = pool as Partial<MysqlPool>;
  return (
    typeof p._allConnections?.length === 'number' &&
    typeof p._freeConnections?.length === 'number' &&
    typeof p._connectionQueue?.length === 'number' &&
    typeof p.config === 'object'
  );
}

function poolName(host: string | undefined, port: number | string | undefined, database: string | undefined): string {
  return `${host || 'localhost'}:${port || ''}/${database || ''}`;
}

function pgPoolName(options: PgPool['options'] = {}): string {
  if (options.connectionString) {
    try {
      const url = new URL(options.connectionString);
      return poolName(
        decodeURIComponent(url.hostname) || options.host,
        url.port || options.port || 5432,
        decodeURIComponent(url.pathname.slice(1)) || options.database,
      );
    } catch {
      // not a URL (a libpq key=value string): fall back to the discrete options
    }
  }
  return poolName(options.host, options.port ?? 5432, options.database);
}

function readPg(pool: object): PoolState | undefined {
  const p = pool as PgPool;
  if (p.ending || p.ended) return undefined;
  return {
    idle: p.idleCount,
    used: Math.max(0, p.totalCount - p.idleCount),
    pending: p.waitingCount,
    max: p.options?.max,
  };
}

function readMysql(pool: object): PoolState | undefined {
  const p = pool as MysqlPool;
  if (p._closed) return undefined;
  const all = p._allConnections.length;
  const free = p._freeConnections.length;
  const limit = p.config.connectionLimit;
  return {
    idle: free,
    used: Math.max(0, all - free),
    pending: p._connectionQueue.length,
    ...(limit ? { max: limit } : {}),
  };
}

function observe(): void {
  observeOnce('pools', (meter) => {
    const count = meter.createObservableUpDownCounter(METRICS.dbClientConnectionCount.name, {
      description: METRICS.dbClientConnectionCount.description,
      unit: METRICS.dbClientConnectionCount.unit,
    });
    const pending = meter.createObservableUpDownCounter(METRICS.dbClientConnectionPendingRequests.name, {
      description: METRICS.dbClientConnectionPendingRequests.description,
      unit: METRICS.dbClientConnectionPendingRequests.unit,
    });
    const max = meter.createObservableUpDownCounter(METRICS.dbClientConnectionMax.name, {
      description: METRICS.dbClientConnectionMax.description,
      unit: METRICS.dbClientConnectionMax.unit,
    });
    meter.addBatchObservableCallback(
      (result) => {
        // Pools sharing a name (two pools on one database) are added up: one series per name.
        const totals = new Map<string, { system: string; name: string; hasMax: boolean } & Required<PoolState>>();
        for (const entry of entries) {
          const pool = entry.pool.deref();
          const state = pool ? entry.read(pool) : undefined;
          const key = `${entry.system}\u0000${entry.name}`;
          const total = totals.get(key) ?? {
            system: entry.system,
            name: entry.name,
            hasMax: false,
            idle: 0,
            used: 0,
            pending: 0,
            max: 0,
          };
          totals.set(key, total);
          if (!state) {
            // Ended, or dropped without end(): reported as empty once, then forgotten. (The SDK keeps
            // exporting the last value of a series no callback observes any more; zero is the truth.)
            entries.delete(entry);
            total.hasMax ||= entry.reportedMax === true;
            continue;
          }
          total.idle += state.idle;
          total.used += state.used;
          total.pending += state.pending;
          if (state.max !== undefined) {
            total.max += state.max;
            total.hasMax = true;
            entry.reportedMax = true;
          }
        }
        for (const t of totals.values()) {
          const attrs = { 'db.client.connection.pool.name': t.name, 'db.system.name': t.system };
          result.observe(count, t.idle, { ...attrs, 'db.client.connection.state': 'idle' });
          result.observe(count, t.used, { ...attrs, 'db.client.connection.state': 'used' });
          result.observe(pending, t.pending, attrs);
          if (t.hasMax) result.observe(max, t.max, attrs);
        }
      },
      [count, pending, max],
    );
  });
}

/**
 * Report a pool's connections on `/metrics`. Idempotent: registering a pool again only renames it.
 * An ended pool (`pool.end()`), or one the app dropped, is reported once with zero connections and
 * then no more.
 *
 * ```js
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
 * getObs().data.instrumentPool(pool, { name: 'users-db' });
 * ```
 * @param pool a `pg.Pool`, a `mysql2` pool (`createPool()`), or a `mysql2/promise` pool
 * @returns a function that stops reporting the pool
 * @throws TypeError when `pool` is neither
 */
export function instrumentPool(pool: object, options: PoolOptions = {}): () => void {
  const target = (pool as { pool?: object }).pool && !isPgPool(pool) ? (pool as { pool: object }).pool : pool;
  let entry = byPool.get(target);
  if (!entry) {
    if (isPgPool(target)) {
      entry = { name: pgPoolName(target.options), system: 'postgresql', pool: new WeakRef(target), read: readPg };
    } else if (isMysqlPool(target)) {
      const c = target.config.connectionConfig ?? {};
      entry = {
        name: poolName(c.host, c.port ?? 3306, c.database),
        system: 'mysql',
        pool: new WeakRef(target),
        read: readMysql,
      };
    } else {
      throw new TypeError('instrumentPool needs a pg.Pool, a mysql2 pool or a mysql2/promise pool');
    }
    byPool.set(target, entry);
  }
  if (options.name) entry.name = options.name;
  entries.add(entry);
  observe();
  const registered = entry;
  return () => {
    entries.delete(registered);
    byPool.delete(target);
  };
}

/** Register a pool found by an instrumentation, unless the app registered (and named) it already. */
export function discoverPool(pool: unknown): void {
  if (!pool || typeof pool !== 'object' || byPool.has(pool)) return;
  try {
    instrumentPool(pool);
  } catch {
    // not a pool shape we know: nothing to report
  }
}

/**
 * Metric views the data layer needs: instrumentation-pg's own pool and duration instruments are
 * dropped, @obs records these names for every driver (see the module comment and db-spans.ts).
 */
export const DATA_VIEWS: ViewOptions[] = [
  {
    meterName: '@opentelemetry/instrumentation-pg',
    instrumentName: 'db.client.*',
    aggregation: { type: AggregationType.DROP },
  },
];
