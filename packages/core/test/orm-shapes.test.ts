/**
 * How core recognises the clients of knex and the ORMs by their shape (core imports none of them):
 * which call a SQL check makes, how an ORM-wrapped driver error is summarised, and how each pool
 * shape is read for the `db.client.connection.*` gauges. The clients themselves, against the real
 * databases, are in packages/orm-tests; here, objects of the same shape record what is called.
 */
import { EventEmitter } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { instrumentPool } from '../src/data/pools.js';
import { sqlRunner } from '../src/health/checks/sql-client.js';
import { summariseError } from '../src/health/registry.js';
import { type DataTelemetry, sampleValue, scrape, startDataTelemetry } from './data-harness.js';

describe('sqlRunner', () => {
  it('runs the statement the way each client takes it', async () => {
    const calls: string[] = [];
    const knex = Object.assign(() => undefined, {
      client: {},
      raw: (sql: string) => Promise.resolve(calls.push(`knex ${sql}`)),
    });
    const prisma = { $queryRawUnsafe: async (sql: string) => calls.push(`prisma ${sql}`) };
    const connection = { execute: async (sql: string) => calls.push(`mikro ${sql}`) };
    const orm = { em: { getConnection: () => connection } };
    const em = { getConnection: () => connection, fork: () => em };
    const callbackApi = {
      promise: () => undefined,
      query: (sql: string, cb: (err: unknown) => void) => {
        calls.push(`callback ${sql}`);
        cb(null);
      },
    };
    for (const client of [knex, prisma, orm, em, callbackApi]) await sqlRunner(client, 'test')?.('SELECT 1');
    expect(calls).toEqual([
      'knex SELECT 1',
      'prisma SELECT 1',
      'mikro SELECT 1',
      'mikro SELECT 1',
      'callback SELECT 1',
    ]);
  });

  it('awaits a thenable that is also an EventEmitter, and waits for end or error of a plain emitter', async () => {
    const thenableEmitter = Object.assign(new EventEmitter(), {
      // biome-ignore lint/suspicious/noThenProperty: the shape of knex's builders, which this test is about
      then: (resolve: (v: unknown) => void) => resolve('rows'),
    });
    await expect(sqlRunner({ query: () => thenableEmitter }, 'test')?.('SELECT 1')).resolves.toBe('rows');
    const ending = new EventEmitter();
    const ended = sqlRunner({ query: () => ending }, 'test')?.('SELECT 1');
    ending.emit('end');
    await expect(ended).resolves.toBeUndefined();
    const failing = new EventEmitter();
    const failed = sqlRunner({ query: () => failing }, 'test')?.('SELECT 1');
    failing.emit('error', new Error('refused'));
    await expect(failed).rejects.toThrow('refused');
    for (const odd of [42, null, undefined, {}]) {
      await expect(sqlRunner({ query: () => odd }, 'test')?.('SELECT 1'), String(odd)).rejects.toThrow(
        new TypeError('test: query() returned neither a promise nor a query'),
      );
    }
    // a callable thenable (a query builder that is a function) is awaited too
    const callable = Object.assign(() => undefined, {
      // biome-ignore lint/suspicious/noThenProperty: the shape under test
      then: (resolve: (v: unknown) => void) => resolve('callable rows'),
    });
    await expect(sqlRunner({ query: () => callable }, 'test')?.('SELECT 1')).resolves.toBe('callable rows');
    const callbackFails = {
      promise: () => undefined,
      query: (_s: string, cb: (e: unknown) => void) => cb(new Error('x')),
    };
    await expect(sqlRunner(callbackFails, 'test')?.('SELECT 1')).rejects.toThrow('x');
  });

  it('takes an object with query() for what it is, whatever else it has', async () => {
    const calls: string[] = [];
    const query = async (sql: string) => calls.push(sql);
    // an unrelated `em` (not MikroORM's), a `fork` without `getConnection`
    for (const client of [
      { em: {}, query },
      { fork: () => undefined, query },
    ]) {
      await sqlRunner(client, 'test')?.('SELECT 1');
    }
    expect(calls).toEqual(['SELECT 1', 'SELECT 1']);
  });

  it('recognises nothing else', () => {
    // a function with a client but no raw(), or raw() but no knex client
    expect(
      sqlRunner(
        Object.assign(() => undefined, { client: {} }),
        'test',
      ),
    ).toBeUndefined();
    expect(
      sqlRunner(
        Object.assign(() => undefined, { raw: async () => undefined }),
        'test',
      ),
    ).toBeUndefined();
    for (const other of [undefined, null, 42, 'pool', {}, { getConnection: () => ({}) }, () => undefined]) {
      expect(sqlRunner(other, 'test')).toBeUndefined();
    }
  });
});

describe('summariseError of ORM-wrapped driver errors', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:5432'), { code: 'ECONNREFUSED' });
  it.each([
    [
      'Sequelize (parent)',
      Object.assign(new Error('x'), { name: 'SequelizeConnectionRefusedError', parent: refused }),
      'ECONNREFUSED',
    ],
    [
      'TypeORM (driverError)',
      Object.assign(new Error('x'), { name: 'QueryFailedError', driverError: refused }),
      'ECONNREFUSED',
    ],
    [
      'Prisma, unreachable',
      {
        name: 'PrismaClientKnownRequestError',
        code: 'P2010',
        meta: { driverAdapterError: { cause: { kind: 'DatabaseNotReachable' } } },
      },
      'DatabaseNotReachable',
    ],
    [
      'Prisma, a database error',
      { code: 'P2010', meta: { driverAdapterError: { cause: { kind: 'postgres', code: '42P01' } } } },
      '42P01',
    ],
    [
      'Prisma, credentials',
      { code: 'P2010', meta: { driverAdapterError: { cause: { kind: 'AuthenticationFailed' } } } },
      'auth failed',
    ],
  ])('%s', (_name, err, summary) => {
    expect(summariseError(err)).toBe(summary);
  });
});

describe('instrumentPool of pool shapes', () => {
  let telemetry: DataTelemetry;
  beforeAll(() => {
    telemetry = startDataTelemetry();
  });
  afterAll(() => telemetry.shutdown());

  async function gauge(name: string, metric: string, state?: string) {
    const { samples } = await scrape(telemetry.pipeline);
    return sampleValue(samples, metric, {
      db_client_connection_pool_name: name,
      ...(state ? { db_client_connection_state: state } : {}),
    });
  }

  it('reads a knex tarn pool, Sequelize read and write pools, a mariadb pool; unwraps TypeORM and MikroORM', async () => {
    const tarn = { numUsed: () => 2, numFree: () => 1, numPendingAcquires: () => 3, max: 5 };
    const knexClient: { pool?: object; dialect: string; connectionSettings: object } = {
      pool: tarn,
      dialect: 'postgresql',
      connectionSettings: { connectionString: 'postgres://u@db.internal:6543/shop' },
    };
    const knex = Object.assign(() => undefined, { client: knexClient, raw: () => undefined });
    instrumentPool(knex);
    expect(await gauge('db.internal:6543/shop', 'db_client_connection_count', 'used')).toBe(2);
    expect(await gauge('db.internal:6543/shop', 'db_client_connection_pending_requests')).toBe(3);
    knexClient.pool = undefined; // knex.destroy()
    expect(await gauge('db.internal:6543/shop', 'db_client_connection_count', 'used')).toBe(0);

    const pool = (available: number, using: number) => ({
      size: available + using,
      available,
      using,
      waiting: 1,
      maxSize: 4,
    });
    const sequelize = {
      options: { dialect: 'mariadb' },
      config: { host: 'maria', port: 3307, database: 'app' },
      connectionManager: { pool: { read: pool(2, 1), write: pool(0, 3) } },
    };
    instrumentPool(sequelize);
    expect(await gauge('maria:3307/app', 'db_client_connection_count', 'used')).toBe(4);
    expect(await gauge('maria:3307/app', 'db_client_connection_count', 'idle')).toBe(2);
    expect(await gauge('maria:3307/app', 'db_client_connection_max')).toBe(8);

    const mariadb = {
      totalConnections: () => 3,
      idleConnections: () => 2,
      activeConnections: () => 1,
      taskQueueSize: () => 0,
      closed: false,
    };
    instrumentPool(mariadb, { name: 'prisma-maria' });
    expect(await gauge('prisma-maria', 'db_client_connection_count', 'idle')).toBe(2);
    expect(await gauge('prisma-maria', 'db_client_connection_max')).toBeUndefined();

    const pg = { totalCount: 1, idleCount: 1, waitingCount: 0, options: { max: 7, host: 'pg', database: 'orders' } };
    instrumentPool({ initialize: () => undefined, driver: { master: pg } }, { name: 'typeorm' });
    expect(await gauge('typeorm', 'db_client_connection_max')).toBe(7);
    expect(() => instrumentPool({ initialize: () => undefined, driver: {} })).toThrow(TypeError); // not initialized

    const mikro6 = { em: { getConnection: () => ({ getKnex: () => knex }) } };
    knexClient.pool = tarn;
    instrumentPool(mikro6, { name: 'mikro6' });
    expect(await gauge('mikro6', 'db_client_connection_count', 'idle')).toBe(1);
    const mikro7 = { em: { getConnection: () => ({ getNativeClient: async () => pg }) } };
    instrumentPool(mikro7, { name: 'mikro7' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(await gauge('mikro7', 'db_client_connection_max')).toBe(7);

    expect(() => instrumentPool({ $queryRawUnsafe: () => undefined })).toThrow(/driver adapter/);
  });
});
