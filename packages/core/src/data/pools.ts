/**
 * Connection-pool usage of `pg.Pool`, `mysql2` and `mariadb` pools, knex's (tarn) pools and Sequelize's pools as
 * observable instruments, read from the pools when metrics are collected (no I/O: the pools keep
 * these counts in memory):
 * `db.client.connection.count` by state (`idle`, `used`), `db.client.connection.pending_requests`
 * and `db.client.connection.max`, labelled with `db.client.connection.pool.name`.
 *
 * Pools are found by themselves (the pg and mysql2 instrumentations register a pool when it is first
 * used, see tracing/instrumentations.ts) or registered with {@link instrumentPool}, which also names
 * them and takes the clients apps hold instead of the pool (knex, a TypeORM `DataSource`, `Sequelize`,
 * MikroORM): each is read through its own pool, duck-typed (nothing is imported from an ORM). knex and
 * Sequelize open single driver connections, never a `pg.Pool` or a mysql2 pool, so their pools are
 * only reported once registered. instrumentation-pg records the same metric names from pool events, but the counts go stale
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
  /** `db.system.name`. */
  system: string;
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

/** tarn's pool (knex's `client.pool`), public methods only. */
interface TarnPool {
  numUsed(): number;
  numFree(): number;
  numPendingAcquires(): number;
  max?: number;
}

/** A knex client (`knex.client`): its pool is created at start and removed by `knex.destroy()`. */
interface KnexClient {
  pool?: TarnPool;
  dialect?: string;
  connectionSettings?: { host?: string; port?: number | string; database?: string; connectionString?: string };
}

/** sequelize-pool's getters; `_draining` is set by `sequelize.close()`. */
interface SequelizePool {
  size: number;
  available: number;
  using: number;
  waiting: number;
  maxSize: number;
  _draining?: boolean;
}

/** Sequelize's connection manager: one pool, or `read` and `write` pools with replication. */
interface SequelizeConnectionManager {
  pool?: SequelizePool | { read?: SequelizePool; write?: SequelizePool };
}

/** `db.system.name` and default port of the knex dialects and Sequelize dialects @obs names. */
const SYSTEMS: Record<string, { system: string; port?: number }> = {
  postgresql: { system: 'postgresql', port: 5432 },
  postgres: { system: 'postgresql', port: 5432 },
  mysql: { system: 'mysql', port: 3306 },
  mariadb: { system: 'mariadb', port: 3306 },
  mssql: { system: 'microsoft.sql_server', port: 1433 },
  oracledb: { system: 'oracle.db', port: 1521 },
  cockroachdb: { system: 'cockroachdb', port: 26257 },
  redshift: { system: 'aws.redshift', port: 5439 },
  sqlite3: { system: 'sqlite' },
  sqlite: { system: 'sqlite' },
  'better-sqlite3': { system: 'sqlite' },
};

function systemOf(dialect: string | undefined): { system: string; port?: number } {
  return (dialect && SYSTEMS[dialect]) || { system: 'other_sql' };
}

function isTarnPool(pool: unknown): pool is TarnPool {
  const p = pool as Partial<TarnPool> | undefined;
  return (
    typeof p?.numUsed === 'function' && typeof p.numFree === 'function' && typeof p.numPendingAcquires === 'function'
  );
}

function isKnex(client: unknown): client is { client: KnexClient } {
  const c = (client as { client?: KnexClient } | undefined)?.client;
  return typeof client === 'function' && typeof c === 'object' && c !== null && 'connectionSettings' in c;
}

function isSequelizePool(pool: unknown): pool is SequelizePool {
  const p = pool as Partial<SequelizePool> | undefined;
  return typeof p?.size === 'number' && typeof p.available === 'number' && typeof p.using === 'number';
}

function readKnex(client: object): PoolState | undefined {
  const pool = (client as KnexClient).pool;
  if (!isTarnPool(pool)) return undefined; // destroyed
  return {
    idle: pool.numFree(),
    used: pool.numUsed(),
    pending: pool.numPendingAcquires(),
    ...(typeof pool.max === 'number' ? { max: pool.max } : {}),
  };
}

function sequelizePools(manager: SequelizeConnectionManager): SequelizePool[] {
  const pool = manager.pool;
  if (isSequelizePool(pool)) return [pool];
  return [pool?.read, pool?.write].filter(isSequelizePool);
}

function readSequelize(manager: object): PoolState | undefined {
  const pools = sequelizePools(manager as SequelizeConnectionManager);
  if (pools.length === 0 || pools.some((p) => p._draining === true)) return undefined; // closed
  const state = { idle: 0, used: 0, pending: 0, max: 0 };
  for (const p of pools) {
    state.idle += p.available;
    state.used += p.using;
    state.pending += p.waiting;
    state.max += p.maxSize;
  }
  return state;
}

/** The `mariadb` driver's promise pool (what `@prisma/adapter-mariadb` takes): public methods only. */
interface MariadbPool {
  totalConnections(): number;
  idleConnections(): number;
  activeConnections(): number;
  taskQueueSize(): number;
  closed?: boolean;
}

function isMariadbPool(pool: unknown): pool is MariadbPool {
  const p = pool as Partial<MariadbPool> | undefined;
  return (
    typeof p?.totalConnections === 'function' &&
    typeof p.idleConnections === 'function' &&
    typeof p.activeConnections === 'function' &&
    typeof p.taskQueueSize === 'function'
  );
}

/** Its limit and address are private to the driver: no maximum, and named `mariadb` unless named. */
function readMariadb(pool: object): PoolState | undefined {
  const p = pool as MariadbPool;
  if (p.closed === true) return undefined;
  return { idle: p.idleConnections(), used: p.activeConnections(), pending: p.taskQueueSize() };
}

function knexEntry(client: KnexClient): Entry {
  const { system, port } = systemOf(client.dialect);
  const settings = client.connectionSettings ?? {};
  const name = settings.connectionString
    ? pgPoolName({ connectionString: settings.connectionString, port })
    : poolName(settings.host, settings.port ?? port, settings.database);
  return { name, system, pool: new WeakRef(client), read: readKnex };
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
 * What to report for `client`: the pool itself, or the object the pool is read through, with its
 * entry (undefined when it is no pool or client @obs knows). TypeORM and MikroORM are unwrapped to
 * their driver pools.
 */
function resolve(client: object): { target: object; make(): Entry } | undefined {
  if (isKnex(client)) {
    const knexClient = client.client;
    return { target: knexClient, make: () => knexEntry(knexClient) };
  }
  const c = client as Record<string, unknown>;
  // TypeORM DataSource (initialized): the postgres driver's pool is `driver.master`, mysql's `driver.pool`
  const driver = c.driver as { master?: object; pool?: object } | undefined;
  if (driver && typeof driver === 'object' && typeof c.initialize === 'function') {
    const pool = driver.master ?? driver.pool;
    return pool ? resolve(pool) : undefined;
  }
  // Sequelize: its connection manager holds the pool(s)
  const manager = c.connectionManager as SequelizeConnectionManager | undefined;
  if (manager && sequelizePools(manager).length > 0) {
    const options = (c.options ?? c.config ?? {}) as { dialect?: string };
    const config = (c.config ?? {}) as { host?: string; port?: number | string; database?: string };
    const { system, port } = systemOf(options.dialect);
    return {
      target: manager,
      make: () => ({
        name: poolName(config.host, config.port ?? port, config.database),
        system,
        pool: new WeakRef(manager),
        read: readSequelize,
      }),
    };
  }
  // mysql2/promise pools wrap the core pool as `.pool`
  const target = (c.pool as object | undefined) && !isPgPool(client) ? (c.pool as object) : client;
  if (isPgPool(target)) {
    return {
      target,
      make: () => ({ name: pgPoolName(target.options), system: 'postgresql', pool: new WeakRef(target), read: readPg }),
    };
  }
  if (isMysqlPool(target)) {
    return {
      target,
      make: () => {
        const conf = target.config.connectionConfig ?? {};
        return {
          name: poolName(conf.host, conf.port ?? 3306, conf.database),
          system: 'mysql',
          pool: new WeakRef(target),
          read: readMysql,
        };
      },
    };
  }
  if (isMariadbPool(client)) {
    return {
      target: client,
      make: () => ({ name: 'mariadb', system: 'mariadb', pool: new WeakRef(client), read: readMariadb }),
    };
  }
  return undefined;
}

function register(target: object, make: () => Entry, options: PoolOptions): () => void {
  let entry = byPool.get(target);
  if (!entry) {
    entry = make();
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

/** MikroORM: `orm.em.getConnection()` (also on a fork of the EntityManager). */
function mikroConnection(client: object): Record<string, unknown> | undefined {
  const c = client as { em?: { getConnection?: () => unknown }; getConnection?: () => unknown; fork?: unknown };
  let connection: unknown;
  if (typeof c.em?.getConnection === 'function') connection = c.em.getConnection();
  else if (typeof c.getConnection === 'function' && typeof c.fork === 'function') connection = c.getConnection();
  return connection && typeof connection === 'object' ? (connection as Record<string, unknown>) : undefined;
}

/**
 * Report a pool's connections on `/metrics`. Idempotent: registering a pool again only renames it.
 * An ended pool (`pool.end()`, `knex.destroy()`, `sequelize.close()`), or one the app dropped, is
 * reported once with zero connections and then no more.
 *
 * ```js
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
 * getObs().data.instrumentPool(pool, { name: 'users-db' });
 * getObs().data.instrumentPool(knex, { name: 'orders-db' }); // knex's tarn pool
 * ```
 * @param pool a `pg.Pool`, a `mysql2` pool (`createPool()`) or `mysql2/promise` pool, a knex instance,
 *   an initialized TypeORM `DataSource` (its driver's pool), a `Sequelize` instance (its pool, or its
 *   read and write pools added up), or a MikroORM instance (6.x: its knex pool; 7.x: the pg or mysql2
 *   pool `getNativeClient()` resolves to, registered once it has resolved), or a `mariadb` driver pool
 *   (no maximum: the driver keeps its limit private; named `mariadb` unless named). For Prisma,
 *   register the `pg.Pool` or `mariadb` pool given to its driver adapter: Prisma Client does not
 *   expose it.
 * @returns a function that stops reporting the pool
 * @throws TypeError when `pool` is none of these
 */
export function instrumentPool(pool: object, options: PoolOptions = {}): () => void {
  const found = resolve(pool);
  if (found) return register(found.target, found.make, options);
  const connection = pool && typeof pool === 'object' ? mikroConnection(pool) : undefined;
  if (connection) {
    // MikroORM 6 is built on knex; 7 on kysely, whose pool only the async getNativeClient() hands out.
    if (typeof connection.getKnex === 'function') return instrumentPool(connection.getKnex() as object, options);
    if (typeof connection.getNativeClient === 'function') {
      let stop: (() => void) | undefined;
      let stopped = false;
      const getNativeClient = connection.getNativeClient as () => Promise<unknown>;
      void Promise.resolve()
        .then(() => getNativeClient.call(connection))
        .then(
          (native) => {
            const inner = native && typeof native === 'object' ? resolve(native) : undefined;
            if (inner && !stopped) stop = register(inner.target, inner.make, options);
          },
          () => undefined, // not connected: the ORM reports that itself
        );
      return () => {
        stopped = true;
        stop?.();
      };
    }
  }
  if (typeof (pool as { $queryRawUnsafe?: unknown })?.$queryRawUnsafe === 'function') {
    throw new TypeError(
      'instrumentPool cannot read a Prisma Client: register the pg.Pool or mariadb pool you give its driver adapter',
    );
  }
  throw new TypeError(
    'instrumentPool needs a pg.Pool, a mysql2 or mariadb pool, knex, a TypeORM DataSource, Sequelize or MikroORM',
  );
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
