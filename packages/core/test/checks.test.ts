/**
 * The built-in dependency checks against the real servers of the machine (PostgreSQL, MariaDB, Redis,
 * RabbitMQ; `.ci/services.sh` starts them), against a port nothing listens on (connection refused)
 * and against a black hole (a TCP server that accepts connections and never answers).
 */
import { once } from 'node:events';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import amqplib from 'amqplib';
import { Redis } from 'ioredis';
import mysql from 'mysql2';
import mysqlPromise from 'mysql2/promise';
import pg from 'pg';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { amqpCheck, httpCheck, mysqlCheck, postgresCheck, redisCheck } from '../src/health/checks/index.js';
import { type HealthCheck, HealthRegistry } from '../src/health/registry.js';

const HOST = '127.0.0.1';
const PG = { host: HOST, port: 5432, user: 'postgres', database: 'test' };
const MYSQL = { host: HOST, port: 3306, user: 'root', password: '', database: 'test' };
const REDIS_URL = `redis://${HOST}:6379`;
const AMQP_URL = `amqp://guest:guest@${HOST}:5672`;
/** A short deadline: failures must be reported within it. */
const DEADLINE_MS = 400;

let blackHole: Server;
let blackHolePort: number;
const sockets = new Set<Socket>();
/** A port with nothing listening on it. */
let refusedPort: number;
const cleanups: (() => unknown)[] = [];

async function listen(server: Server | HttpServer): Promise<number> {
  server.listen(0, HOST);
  await once(server, 'listening');
  return (server.address() as { port: number }).port;
}

beforeAll(async () => {
  blackHole = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  blackHolePort = await listen(blackHole);
  const probe = createServer();
  refusedPort = await listen(probe);
  probe.close();
  await once(probe, 'close');
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse())
    await Promise.resolve()
      .then(cleanup)
      .catch(() => undefined);
  for (const socket of sockets) socket.destroy();
  blackHole.close();
});

/** Run one check through a registry, as a probe would. */
async function probe(check: HealthCheck) {
  const started = performance.now();
  const answer = await new HealthRegistry({ cacheMs: 0, timeoutMs: DEADLINE_MS }).add(check).ready();
  return { ...answer, elapsed: performance.now() - started, result: answer.body.checks[check.name] };
}

/** Healthy: 200 with the check ok. */
async function expectHealthy(check: HealthCheck) {
  const { statusCode, result } = await probe(check);
  expect(result).toMatchObject({ status: 'ok', critical: true });
  expect(statusCode).toBe(200);
}

/** Failing: 503 within the deadline, with `error`, and nothing of the target in the answer. */
async function expectFailing(check: HealthCheck, error: string | RegExp, secrets: string[] = []) {
  const { statusCode, body, elapsed, result } = await probe(check);
  expect(statusCode).toBe(503);
  expect(result?.status).toBe('error');
  expect(result?.error).toMatch(error);
  expect(elapsed).toBeLessThan(DEADLINE_MS + 2000); // generous for a busy machine; a black hole never answers
  const text = JSON.stringify(body);
  for (const secret of [HOST, String(refusedPort), String(blackHolePort), ...secrets]) {
    expect(text).not.toContain(secret);
  }
}

describe('postgresCheck (pg)', () => {
  it('is healthy with a Pool and with a Client', async () => {
    const pool = new pg.Pool({ ...PG, max: 2 });
    cleanups.push(() => pool.end());
    await expectHealthy(postgresCheck(pool));
    const client = new pg.Client(PG);
    await client.connect();
    cleanups.push(() => client.end());
    await expectHealthy(postgresCheck(client, { name: 'pg-client', query: 'SELECT 2' }));
  });

  it('fails with ECONNREFUSED when the server is down', async () => {
    const pool = new pg.Pool({ ...PG, port: refusedPort, connectionTimeoutMillis: 2000 });
    pool.on('error', () => undefined);
    cleanups.push(() => pool.end());
    await expectFailing(postgresCheck(pool), 'ECONNREFUSED');
  });

  it('fails with timeout, within the deadline, when the server never answers', async () => {
    const pool = new pg.Pool({ ...PG, port: blackHolePort, connectionTimeoutMillis: 3000 });
    pool.on('error', () => undefined);
    cleanups.push(() => pool.end().catch(() => undefined));
    await expectFailing(postgresCheck(pool), 'timeout');
  });

  it('reports a failing statement by its code', async () => {
    const pool = new pg.Pool({ ...PG, max: 1 });
    cleanups.push(() => pool.end());
    const { result } = await probe(postgresCheck(pool, { query: 'SELECT * FROM no_such_table_here' }));
    // the SQLSTATE of "undefined table"
    expect(result?.error).toBe('42P01');
  });
});

describe('mysqlCheck (mysql2, MariaDB)', () => {
  it('is healthy with callback and promise pools and connections', async () => {
    const pool = mysql.createPool({ ...MYSQL, connectionLimit: 1 });
    cleanups.push(() => new Promise((r) => pool.end(r)));
    await expectHealthy(mysqlCheck(pool));
    const promisePool = mysqlPromise.createPool({ ...MYSQL, connectionLimit: 1 });
    cleanups.push(() => promisePool.end());
    await expectHealthy(mysqlCheck(promisePool));
    const connection = await mysqlPromise.createConnection(MYSQL);
    cleanups.push(() => connection.end());
    await expectHealthy(mysqlCheck(connection));
    await expectHealthy(mysqlCheck(pool.promise()));
  });

  it('fails with ECONNREFUSED when the server is down (callback and promise pools)', async () => {
    const pool = mysql.createPool({ ...MYSQL, port: refusedPort });
    cleanups.push(() => new Promise((r) => pool.end(r)));
    await expectFailing(mysqlCheck(pool), 'ECONNREFUSED');
    const promisePool = mysqlPromise.createPool({ ...MYSQL, port: refusedPort });
    cleanups.push(() => promisePool.end());
    await expectFailing(mysqlCheck(promisePool), 'ECONNREFUSED');
  });

  it('fails with timeout, within the deadline, when the server never answers', async () => {
    const pool = mysqlPromise.createPool({ ...MYSQL, port: blackHolePort, connectTimeout: 3000 });
    cleanups.push(() => pool.end().catch(() => undefined));
    await expectFailing(mysqlCheck(pool), 'timeout');
  });

  it('says "auth failed" for refused credentials, without the user or the password', async () => {
    const pool = mysqlPromise.createPool({ ...MYSQL, user: 'nobody_here', password: 'hunter2-secret' });
    cleanups.push(() => pool.end());
    await expectFailing(mysqlCheck(pool), 'auth failed', ['nobody_here', 'hunter2-secret']);
  });
});

describe('redisCheck (ioredis and node-redis)', () => {
  it('is healthy with ioredis and with node-redis', async () => {
    const ioredis = new Redis(REDIS_URL);
    cleanups.push(() => ioredis.disconnect());
    await once(ioredis, 'ready');
    await expectHealthy(redisCheck(ioredis));
    const lazy = new Redis(REDIS_URL, { lazyConnect: true });
    cleanups.push(() => lazy.disconnect());
    await expectHealthy(redisCheck(lazy));
    const nodeRedis = createClient({ url: REDIS_URL });
    await nodeRedis.connect();
    cleanups.push(() => nodeRedis.destroy());
    await expectHealthy(redisCheck(nodeRedis));
  });

  it('fails at once when the server is down and the client reconnects', async () => {
    const ioredis = new Redis({ host: HOST, port: refusedPort, retryStrategy: () => 50 });
    ioredis.on('error', () => undefined);
    cleanups.push(() => ioredis.disconnect());
    await once(ioredis, 'error');
    await expectFailing(redisCheck(ioredis), /^not connected \((reconnecting|connecting|close)\)$/);

    const nodeRedis = createClient({ url: `redis://${HOST}:${refusedPort}`, socket: { reconnectStrategy: 50 } });
    nodeRedis.on('error', () => undefined);
    void nodeRedis.connect().catch(() => undefined);
    cleanups.push(() => nodeRedis.destroy());
    await once(nodeRedis, 'error');
    await expectFailing(redisCheck(nodeRedis), /^not connected \(reconnecting\)$/);
  });

  it('says "not connected (closed)" for a node-redis client the app closed', async () => {
    const nodeRedis = createClient({ url: REDIS_URL });
    await nodeRedis.connect();
    nodeRedis.destroy();
    await expectFailing(redisCheck(nodeRedis), /^not connected \(closed\)$/);
  });

  it('fails with timeout, within the deadline, when the server never answers', async () => {
    const ioredis = new Redis({ host: HOST, port: blackHolePort, connectTimeout: 3000, lazyConnect: true });
    ioredis.on('error', () => undefined);
    cleanups.push(() => ioredis.disconnect());
    await expectFailing(redisCheck(ioredis), 'timeout');
  });
});

describe('amqpCheck (amqplib, RabbitMQ)', () => {
  it('is healthy with a connection, a recovering connection, and a function returning one', async () => {
    const connection = await amqplib.connect(AMQP_URL);
    cleanups.push(() => connection.close());
    await expectHealthy(amqpCheck(connection));
    const recovering = await amqplib.connect(AMQP_URL, { recovery: { waitForConnect: true } } as never);
    cleanups.push(() => recovering.close());
    await expectHealthy(amqpCheck(recovering));
    await expectHealthy(amqpCheck(() => connection));
  });

  it('fails when there is no connection, or when the connection was closed', async () => {
    await expectFailing(
      amqpCheck(() => undefined),
      'not connected',
    );
    const connection = await amqplib.connect(AMQP_URL);
    await connection.close();
    const { result } = await probe(amqpCheck(connection));
    expect(result?.status).toBe('error');
  });

  it('fails when the channel it opened cannot be closed', async () => {
    const failingClose = {
      createChannel: async () => ({ close: () => Promise.reject(new Error('channel closed by the broker')) }),
    };
    const { statusCode, result } = await probe(amqpCheck(failingClose));
    expect(statusCode).toBe(503);
    expect(result?.status).toBe('error');
  });

  it('fails with timeout, within the deadline, while the broker is down or never answers', async () => {
    for (const port of [refusedPort, blackHolePort]) {
      const recovering = await amqplib.connect(`amqp://guest:guest@${HOST}:${port}`, {
        recovery: { waitForConnect: false, initialDelay: 50, maxDelay: 200 },
      } as never);
      recovering.on('error', () => undefined);
      cleanups.push(() => recovering.close());
      await expectFailing(amqpCheck(recovering), 'timeout', ['guest']);
    }
  });
});

describe('httpCheck', () => {
  let upstream: HttpServer;
  let port: number;
  let status = 200;
  const seen: string[] = [];
  beforeAll(async () => {
    upstream = createHttpServer((req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? '-'}`);
      if (req.url === '/moved') {
        res.writeHead(302, { location: '/down' });
        res.end();
        return;
      }
      res.statusCode = req.url === '/down' ? 503 : status;
      res.end('body');
    });
    port = await listen(upstream);
    cleanups.push(() => upstream.close());
  });

  it('is healthy on 2xx and 3xx, and fails with HTTP <status> otherwise', async () => {
    status = 200;
    await expectHealthy(httpCheck(`http://${HOST}:${port}/health/ready`));
    status = 302;
    await expectHealthy(httpCheck(new URL(`http://${HOST}:${port}/`), { method: 'HEAD' }));
    status = 503;
    await expectFailing(httpCheck(`http://${HOST}:${port}/health/ready?token=secret-token`), 'HTTP 503', [
      'secret-token',
      '/health',
    ]);
    await expectHealthy(httpCheck(`http://${HOST}:${port}/`, { expectStatus: (s) => s === 503 }));
  });

  it('fails on 400, sends the method and headers asked for, GET by default, and follows no redirect', async () => {
    status = 400;
    await expectFailing(httpCheck(`http://${HOST}:${port}/`), 'HTTP 400');
    seen.length = 0;
    status = 200;
    await expectHealthy(httpCheck(`http://${HOST}:${port}/a`));
    await expectHealthy(
      httpCheck(`http://${HOST}:${port}/b`, { method: 'HEAD', headers: { authorization: 'Bearer upstream-token' } }),
    );
    // a redirect to a failing page: the redirect itself is the answer (3xx, healthy)
    await expectHealthy(httpCheck(`http://${HOST}:${port}/moved`));
    expect(seen).toEqual(['GET /a -', 'HEAD /b Bearer upstream-token', 'GET /moved -']);
  });

  it('fails with ECONNREFUSED when the upstream is down, and with timeout when it never answers', async () => {
    await expectFailing(httpCheck(`http://${HOST}:${refusedPort}/`), 'ECONNREFUSED');
    await expectFailing(httpCheck(`http://${HOST}:${blackHolePort}/`), 'timeout');
  });

  it('rejects an invalid URL at registration', () => {
    expect(() => httpCheck('not a url')).toThrow(TypeError);
  });
});

describe('factories', () => {
  it('take name, timeout, criticality and kind, and refuse what they cannot check', () => {
    const check = postgresCheck({ query: async () => undefined }, { name: 'db', timeoutMs: 300, critical: false });
    expect(check).toMatchObject({ name: 'db', timeoutMs: 300, critical: false });
    expect(check).not.toHaveProperty('kind');
    expect(redisCheck({ ping: async () => 'PONG' }).name).toBe('redis');
    expect(mysqlCheck({ query: () => Promise.resolve() }).name).toBe('mysql');
    expect(amqpCheck({ createChannel: async () => ({ close: async () => undefined }) }).name).toBe('rabbitmq');
    expect(httpCheck('http://localhost/').name).toBe('http');
    expect(redisCheck({ ping: async () => 'PONG' }, { kind: 'liveness' }).kind).toBe('liveness');
    for (const bad of [undefined, {}, { query: 1 }]) {
      expect(() => postgresCheck(bad as never)).toThrow(
        new TypeError('postgresCheck needs a pg Pool or Client, knex, Prisma, TypeORM, Sequelize or MikroORM'),
      );
      expect(() => mysqlCheck(bad as never)).toThrow(
        new TypeError('mysqlCheck needs a mysql2 pool or connection, knex, Prisma, TypeORM, Sequelize or MikroORM'),
      );
      expect(() => redisCheck(bad as never)).toThrow(new TypeError('redisCheck needs an ioredis or node-redis client'));
      expect(() => amqpCheck(bad as never)).toThrow(
        new TypeError('amqpCheck needs an amqplib connection (promise API) or a function returning one'),
      );
    }
  });

  it('run SELECT 1 by default, and name the factory when a client answers with something unusable', async () => {
    const statements: string[] = [];
    const client = { query: async (sql: string) => statements.push(sql) };
    const signal = new AbortController().signal;
    await postgresCheck(client).check(signal);
    await mysqlCheck(client).check(signal);
    expect(statements).toEqual(['SELECT 1', 'SELECT 1']);
    const odd = { query: () => 42 };
    await expect(postgresCheck(odd).check(signal)).rejects.toThrow(
      new TypeError('postgresCheck: query() returned neither a promise nor a query'),
    );
    await expect(mysqlCheck(odd).check(signal)).rejects.toThrow(
      new TypeError('mysqlCheck: query() returned neither a promise nor a query'),
    );
  });
});
