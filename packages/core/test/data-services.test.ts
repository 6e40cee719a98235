/**
 * The data layer against the real servers of the machine (PostgreSQL, MariaDB, Redis, RabbitMQ;
 * `.ci/services.sh` starts them), with @obs's own metrics pipeline and instrumentations in process:
 * query spans under the request span with sanitised SQL, pool gauges following check-outs, cache
 * hit/miss counts of a scripted sequence, a message consumed in the publisher's trace, a failing
 * consumer counted, queue depth, and finally every metric docs/data.md lists on the exposition.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import type * as Amqp from 'amqplib';
import type { Redis as IORedis } from 'ioredis';
import type * as Mysql from 'mysql2';
import type * as MysqlPromise from 'mysql2/promise';
import type * as Pg from 'pg';
import type * as NodeRedis from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cache } from '../src/data/cache.js';
import { instrumentPool } from '../src/data/pools.js';
import { consume, watchQueueDepth } from '../src/data/queue.js';
import { postgresCheck, redisCheck } from '../src/health/checks/index.js';
import { HealthRegistry } from '../src/health/registry.js';
import { METRICS } from '../src/metrics/names.js';
import {
  AMQP_URL,
  type DataTelemetry,
  driver,
  eventually,
  inRequest,
  MYSQL,
  PG,
  REDIS_URL,
  type Sample,
  sampleValue,
  scrape,
  spansWhere,
  startDataTelemetry,
} from './data-harness.js';
import { useDiagnostics } from './helpers.js';

const RUN = `${process.pid}_${Date.now().toString(36)}`;
const PG_TABLE = `obs_data_users_${RUN}`;
const MYSQL_TABLE = `obs_data_items_${RUN}`;

let telemetry: DataTelemetry;
const diagnostics = useDiagnostics();
let pg: typeof Pg;
let mysql: typeof Mysql;
let mysqlPromise: typeof MysqlPromise;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  telemetry = startDataTelemetry();
  pg = driver('pg');
  mysql = driver('mysql2');
  mysqlPromise = driver('mysql2/promise');
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse())
    await Promise.resolve()
      .then(cleanup)
      .catch(() => undefined);
  await telemetry.shutdown();
});

function childrenOf(parent: { spanContext(): { spanId: string; traceId: string } }, kind = SpanKind.CLIENT) {
  const { spanId, traceId } = parent.spanContext();
  return spansWhere(
    telemetry.spans,
    (s) => s.kind === kind && s.parentSpanContext?.spanId === spanId && s.spanContext().traceId === traceId,
  );
}

async function samples(): Promise<Sample[]> {
  return (await scrape(telemetry.pipeline)).samples;
}

describe('PostgreSQL (pg)', () => {
  let pool: Pg.Pool;

  beforeAll(async () => {
    pool = new pg.Pool({ ...PG, max: 3 });
    cleanups.push(() => pool.end());
    await pool.query(`CREATE TABLE ${PG_TABLE} (id int PRIMARY KEY, name text)`);
    cleanups.push(() => new pg.Pool(PG).query(`DROP TABLE IF EXISTS ${PG_TABLE}`));
    await pool.query(`INSERT INTO ${PG_TABLE} VALUES (1, 'alice'), (42, 'bob')`);
  });

  it('traces queries as children of the request span, with sanitised text and the collection', async () => {
    const { span: request } = await inRequest('GET /users/:id', async () => {
      await pool.query(`SELECT id, name FROM ${PG_TABLE} WHERE name = 'bob' AND id = 42`);
      await pool.query(`SELECT name FROM ${PG_TABLE} WHERE id = $1`, [1]);
    });
    const queries = childrenOf(request).filter((s) => s.attributes['db.query.text'] !== undefined);
    expect(queries.map((s) => s.name)).toEqual([`SELECT ${PG_TABLE}`, `SELECT ${PG_TABLE}`]);
    expect(queries.map((s) => s.attributes['db.query.text'])).toEqual([
      `SELECT id, name FROM ${PG_TABLE} WHERE name = ? AND id = ?`,
      `SELECT name FROM ${PG_TABLE} WHERE id = $1`,
    ]);
    for (const q of queries) {
      expect(q.attributes).toMatchObject({
        'db.system.name': 'postgresql',
        'db.namespace': 'test',
        'db.operation.name': 'SELECT',
        'db.collection.name': PG_TABLE,
        'db.query.summary': `SELECT ${PG_TABLE}`,
        'server.address': PG.host,
        'server.port': 5432,
      });
      expect(JSON.stringify(q.attributes)).not.toContain('bob');
    }
  });

  it('records db.client.operation.duration with the collection, and the SQLSTATE as error.type', async () => {
    await inRequest('GET /broken', () => pool.query('SELECT * FROM obs_no_such_table').catch(() => undefined));
    const s = await samples();
    const labels = { db_system_name: 'postgresql', db_operation_name: 'SELECT', db_namespace: 'test' };
    expect(
      sampleValue(s, 'db_client_operation_duration_count', { ...labels, db_collection_name: PG_TABLE }),
    ).toBeGreaterThanOrEqual(2);
    expect(
      sampleValue(s, 'db_client_operation_duration_count', {
        ...labels,
        db_collection_name: 'obs_no_such_table',
        error_type: '42P01',
      }),
    ).toBe(1);
    // instrumentation-pg's own instruments are dropped: one source per metric name
    expect(s.filter((x) => x.name.startsWith('db_client_')).map((x) => x.labels.otel_scope_name)).not.toContain(
      '@opentelemetry/instrumentation-pg',
    );
  });

  it('records db.client.operation.duration in seconds: a query the server holds for 0.2 s', async () => {
    const table = `obs_data_timed_${RUN}`;
    await pool.query(`CREATE TABLE ${table} (id int)`);
    cleanups.push(() => new pg.Pool(PG).query(`DROP TABLE IF EXISTS ${table}`));
    await pool.query(`INSERT INTO ${table} VALUES (1)`);
    await pool.query(`SELECT pg_sleep(0.2) FROM ${table}`);
    const s = await samples();
    const labels = { db_system_name: 'postgresql', db_operation_name: 'SELECT', db_collection_name: table };
    expect(sampleValue(s, 'db_client_operation_duration_count', labels)).toBe(1);
    const seconds = sampleValue(s, 'db_client_operation_duration_sum', labels) ?? Number.NaN;
    expect(seconds).toBeGreaterThanOrEqual(0.2);
    expect(seconds).toBeLessThan(10); // generous for a busy machine; in milliseconds it would be >= 200
    expect(sampleValue(s, 'db_client_operation_duration_bucket', { ...labels, le: '0.1' })).toBe(0);
    expect(sampleValue(s, 'db_client_operation_duration_bucket', { ...labels, le: '10' })).toBe(1);
  });

  it('reports the pool by connection state, pending requests and maximum as clients come and go', async () => {
    const name = `${PG.host}:5432/test`; // found by itself on first use, named per the conventions
    const read = async () => {
      const s = await samples();
      const labels = { db_client_connection_pool_name: name, db_system_name: 'postgresql' };
      return {
        used: sampleValue(s, 'db_client_connection_count', { ...labels, db_client_connection_state: 'used' }),
        idle: sampleValue(s, 'db_client_connection_count', { ...labels, db_client_connection_state: 'idle' }),
        pending: sampleValue(s, 'db_client_connection_pending_requests', labels),
        max: sampleValue(s, 'db_client_connection_max', labels),
      };
    };
    const idleBefore = (await read()).idle ?? 0;
    expect(await read()).toMatchObject({ used: 0, pending: 0, max: 3 });
    const a = await pool.connect();
    const b = await pool.connect();
    const c = await pool.connect();
    expect(await read()).toMatchObject({ used: 3, idle: 0, pending: 0, max: 3 });
    const waiting = pool.connect(); // the pool is exhausted: this one waits
    expect(await read()).toMatchObject({ used: 3, pending: 1 });
    a.release();
    const d = await waiting;
    expect(await read()).toMatchObject({ used: 3, idle: 0, pending: 0 });
    for (const client of [b, c, d]) client.release();
    expect(await read()).toMatchObject({ used: 0, idle: 3, pending: 0 });
    expect(idleBefore).toBeLessThanOrEqual(3);
  });

  it('names a pool the app registers, and forgets a pool once it has ended', async () => {
    const other = new pg.Pool({ ...PG, max: 2 });
    instrumentPool(other, { name: 'reports-db' });
    await other.query('SELECT 1');
    let s = await samples();
    expect(
      sampleValue(s, 'db_client_connection_count', {
        db_client_connection_pool_name: 'reports-db',
        db_client_connection_state: 'idle',
      }),
    ).toBe(1);
    expect(sampleValue(s, 'db_client_connection_max', { db_client_connection_pool_name: 'reports-db' })).toBe(2);
    await other.end();
    s = await samples(); // ended: reported empty (the SDK keeps exporting a series' last value)
    const ended = { db_client_connection_pool_name: 'reports-db' };
    expect(sampleValue(s, 'db_client_connection_count', ended)).toBe(0);
    expect(sampleValue(s, 'db_client_connection_max', ended)).toBe(0);
    expect(() => instrumentPool({ query() {} })).toThrow(TypeError);
  });
});

describe('MariaDB (mysql2)', () => {
  let pool: MysqlPromise.Pool;

  beforeAll(async () => {
    pool = mysqlPromise.createPool({ ...MYSQL, connectionLimit: 4 });
    cleanups.push(() => pool.end());
    await pool.query(`CREATE TABLE ${MYSQL_TABLE} (sku varchar(20) PRIMARY KEY, qty int)`);
    cleanups.push(async () => {
      const c = await mysqlPromise.createConnection(MYSQL);
      await c.query(`DROP TABLE IF EXISTS ${MYSQL_TABLE}`);
      await c.end();
    });
  });

  it('traces queries with the bound values masked, never formatted into the text', async () => {
    const { span: request } = await inRequest('POST /items', async () => {
      await pool.execute(`INSERT INTO ${MYSQL_TABLE} (sku, qty) VALUES (?, ?)`, ['secret-sku', 7]);
      await pool.query(`SELECT qty FROM ${MYSQL_TABLE} WHERE sku = 'secret-sku' AND qty > 5`);
    });
    const queries = childrenOf(request);
    expect(queries.map((s) => s.name)).toEqual([`INSERT ${MYSQL_TABLE}`, `SELECT ${MYSQL_TABLE}`]);
    expect(queries.map((s) => s.attributes['db.query.text'])).toEqual([
      `INSERT INTO ${MYSQL_TABLE} (sku, qty) VALUES (?, ?)`,
      `SELECT qty FROM ${MYSQL_TABLE} WHERE sku = ? AND qty > ?`,
    ]);
    expect(JSON.stringify(queries.map((s) => s.attributes))).not.toContain('secret');
    expect(queries[1]?.attributes).toMatchObject({
      'db.system.name': 'mysql',
      'db.namespace': 'test',
      'db.operation.name': 'SELECT',
      'db.collection.name': MYSQL_TABLE,
    });
    const s = await samples();
    expect(
      sampleValue(s, 'db_client_operation_duration_count', {
        db_system_name: 'mysql',
        db_operation_name: 'INSERT',
        db_collection_name: MYSQL_TABLE,
      }),
    ).toBe(1);
  });

  it('reports callback and promise pools by connection state', async () => {
    const callbackPool = mysql.createPool({ ...MYSQL, connectionLimit: 2 });
    cleanups.push(() => new Promise((resolve) => callbackPool.end(resolve)));
    instrumentPool(callbackPool, { name: 'mysql-callback' });
    const get = () =>
      new Promise<Mysql.PoolConnection>((resolve, reject) =>
        callbackPool.getConnection((err, conn) => (err ? reject(err) : resolve(conn))),
      );
    const read = async (name: string) => {
      const s = await samples();
      return {
        used: sampleValue(s, 'db_client_connection_count', {
          db_client_connection_pool_name: name,
          db_client_connection_state: 'used',
        }),
        idle: sampleValue(s, 'db_client_connection_count', {
          db_client_connection_pool_name: name,
          db_client_connection_state: 'idle',
        }),
        pending: sampleValue(s, 'db_client_connection_pending_requests', { db_client_connection_pool_name: name }),
        max: sampleValue(s, 'db_client_connection_max', {
          db_client_connection_pool_name: name,
          db_system_name: 'mysql',
        }),
      };
    };
    const a = await get();
    const b = await get();
    const waiting = get();
    expect(await read('mysql-callback')).toEqual({ used: 2, idle: 0, pending: 1, max: 2 });
    a.release();
    const c = await waiting;
    b.release();
    expect(await read('mysql-callback')).toEqual({ used: 1, idle: 1, pending: 0, max: 2 });
    c.release();
    expect(await read('mysql-callback')).toEqual({ used: 0, idle: 2, pending: 0, max: 2 });
    // the promise pool of the first test was found by itself (named host:port/database)
    expect(await read(`${MYSQL.host}:3306/test`)).toMatchObject({ used: 0, pending: 0, max: 4 });
  });
});

describe('Redis (ioredis, redis) and the cache helper', () => {
  let ioredis: IORedis;
  let nodeRedis: NodeRedis.RedisClientType;
  const key = (k: string) => `obs:data:${RUN}:${k}`;

  beforeAll(async () => {
    const { Redis } = driver('ioredis') as typeof import('ioredis');
    ioredis = new Redis(REDIS_URL, { lazyConnect: true });
    await ioredis.connect();
    cleanups.push(() => ioredis.quit());
    const { createClient } = driver('redis') as typeof NodeRedis;
    nodeRedis = createClient({ url: REDIS_URL }) as NodeRedis.RedisClientType;
    await nodeRedis.connect();
    cleanups.push(() => nodeRedis.quit());
  });

  it('traces commands of both clients under the request, with upper-case operation names and duration', async () => {
    const { span: request } = await inRequest('GET /session', async () => {
      await ioredis.set(key('a'), 'value');
      await ioredis.get(key('a'));
      await nodeRedis.get(key('a'));
    });
    const commands = childrenOf(request);
    expect(commands.map((s) => s.name)).toEqual(['SET', 'GET', 'GET']);
    for (const c of commands) expect(c.attributes).toMatchObject({ 'db.system.name': 'redis' });
    expect(commands.map((s) => s.attributes['db.operation.name'])).toEqual(['SET', 'GET', 'GET']);
    // SET's value is not in the text
    expect(commands[0]?.attributes['db.query.text']).toBe(`set ${key('a')} [1 other arguments]`);
    const s = await samples();
    expect(
      sampleValue(s, 'db_client_operation_duration_count', { db_system_name: 'redis', db_operation_name: 'GET' }),
    ).toBeGreaterThanOrEqual(2);
  });

  it("measures commands outside any span without tracing them, and leaves the health checks' own PING out", async () => {
    const pings = async () =>
      sampleValue(await samples(), 'db_client_operation_duration_count', {
        db_system_name: 'redis',
        db_operation_name: 'PING',
      }) ?? 0;
    const selects = async () =>
      sampleValue(await samples(), 'db_client_operation_duration_count', {
        db_system_name: 'postgresql',
        db_operation_name: 'SELECT',
      }) ?? 0;
    const checkedPool = new pg.Pool({ ...PG, max: 1 });
    cleanups.push(() => checkedPool.end());
    const before = await pings();
    const selectsBefore = await selects();
    const spansBefore = telemetry.spans.getFinishedSpans().length;
    await ioredis.ping(); // outside any span: measured, not traced (OBS_ROOT_CLIENT_SPANS=false)
    await nodeRedis.ping();
    expect(await pings()).toBe(before + 2);
    const answer = await new HealthRegistry({ cacheMs: 0, timeoutMs: 2000 })
      .add(redisCheck(ioredis, { name: 'io' }))
      .add(redisCheck(nodeRedis, { name: 'node' }))
      .add(postgresCheck(checkedPool, { name: 'pg' }))
      .ready();
    expect(answer.statusCode).toBe(200);
    expect(await pings()).toBe(before + 2); // @obs's own work: not measured
    expect(await selects()).toBe(selectsBefore);
    expect(telemetry.spans.getFinishedSpans().length).toBe(spansBefore); // and nothing traced
  });

  it('counts hits and misses of a scripted sequence of reads', async () => {
    let loads = 0;
    const users = cache<{ id: string; name: string }>('users', {
      get: async (id) => {
        const raw = await ioredis.get(key(`user:${id}`));
        return raw === null ? undefined : (JSON.parse(raw) as { id: string; name: string });
      },
      set: (id, user) => ioredis.set(key(`user:${id}`), JSON.stringify(user), 'EX', 60),
    });
    cleanups.push(() => ioredis.del(key('user:1'), key('user:2')));
    const sequence = ['1', '1', '2', '1', '2', '3'].map((id) => id);
    const results: string[] = [];
    for (const id of sequence) {
      const { result } = await inRequest('GET /users/:id', () =>
        users.get(id, async (k) => {
          loads++;
          return { id: k, name: `user ${k}` };
        }),
      );
      results.push(result.name);
    }
    expect(results).toEqual(['user 1', 'user 1', 'user 2', 'user 1', 'user 2', 'user 3']);
    expect(loads).toBe(3);

    // counting around the app's own reads
    const sessions = cache('sessions');
    sessions.record(await nodeRedis.get(key('missing')));
    sessions.record(await nodeRedis.get(key('a')));
    sessions.hit(2);
    sessions.miss();

    // a store that is down: counted as an error, the loader still answers
    const flaky = cache<string>('flaky', {
      get: () => Promise.reject(new Error('ECONNREFUSED')),
      set: () => Promise.reject(new Error('ECONNREFUSED')),
    });
    expect(await flaky.get('k', () => 'loaded')).toBe('loaded');
    expect(diagnostics).toEqual([
      '@obs warn: cache flaky: read failed (ECONNREFUSED)',
      '@obs warn: cache flaky: write failed (ECONNREFUSED)',
    ]);

    const s = await samples();
    const count = (name: string, result: string) =>
      sampleValue(s, 'cache_requests_total', { cache_name: name, cache_result: result });
    expect([count('users', 'hit'), count('users', 'miss'), count('users', 'error')]).toEqual([3, 3, undefined]);
    expect([count('sessions', 'hit'), count('sessions', 'miss')]).toEqual([3, 2]);
    expect([count('flaky', 'error'), count('flaky', 'hit')]).toEqual([1, undefined]);
    expect(() => cache('user:42:profile with spaces')).toThrow(TypeError);
  });
});

describe('RabbitMQ (amqplib)', () => {
  let connection: Amqp.ChannelModel;
  let channel: Amqp.Channel;
  const queue = (name: string) => `obs.data.${RUN}.${name}`;

  beforeAll(async () => {
    const amqp = driver('amqplib') as typeof Amqp;
    connection = await amqp.connect(AMQP_URL);
    cleanups.push(() => connection.close());
    channel = await connection.createChannel();
    for (const q of ['orders', 'dead', 'retried', 'depth']) {
      await channel.assertQueue(queue(q), { durable: false });
      cleanups.push(() => channel.deleteQueue(queue(q)));
    }
    // nacked (rejected) messages of this queue are dead-lettered to `dead`; acked ones are not
    await channel.assertQueue(queue('failing'), {
      durable: false,
      deadLetterExchange: '',
      deadLetterRoutingKey: queue('dead'),
    });
    cleanups.push(() => channel.deleteQueue(queue('failing')));
  });

  function consumerSpans(q: string): ReadableSpan[] {
    return spansWhere(telemetry.spans, (s) => s.kind === SpanKind.CONSUMER && s.name === `process ${q}`);
  }

  it('consumes a message published in a request in the same trace, and counts it', async () => {
    const received: string[] = [];
    await consume(channel, queue('orders'), async (msg) => {
      received.push((msg as Amqp.ConsumeMessage).content.toString());
    });
    const { span: request } = await inRequest('POST /orders', async () => {
      channel.sendToQueue(queue('orders'), Buffer.from('order-1'));
    });
    await eventually(() => consumerSpans(queue('orders')).length === 1);
    expect(received).toEqual(['order-1']);
    const [producer] = childrenOf(request, SpanKind.PRODUCER);
    const [consumer] = consumerSpans(queue('orders'));
    expect(producer?.name).toBe(`publish ${queue('orders')}`);
    expect(producer?.attributes).toMatchObject({
      'messaging.system': 'rabbitmq',
      'messaging.operation.type': 'send',
      'messaging.destination.name': queue('orders'),
    });
    expect(consumer?.spanContext().traceId).toBe(request.spanContext().traceId);
    expect(consumer?.parentSpanContext?.spanId).toBe(producer?.spanContext().spanId);
    expect(consumer?.attributes).toMatchObject({
      'messaging.system': 'rabbitmq',
      'messaging.operation.type': 'process',
      'messaging.destination.name': queue('orders'),
    });
    expect(consumer?.status.code).not.toBe(SpanStatusCode.ERROR);
    const s = await samples();
    const labels = { messaging_system: 'rabbitmq', messaging_destination_name: queue('orders') };
    expect(sampleValue(s, 'messaging_client_sent_messages_total', labels)).toBe(1);
    expect(sampleValue(s, 'messaging_client_consumed_messages_total', labels)).toBe(1);
    expect(sampleValue(s, 'messaging_process_duration_count', labels)).toBe(1);
    expect(s.some((x) => x.name === 'messaging_client_consumed_messages_total' && x.labels.error_type)).toBe(false);
  });

  it('counts a consumer that throws as failed, nacks the message without requeueing it', async () => {
    const errors: unknown[] = [];
    let attempts = 0;
    await consume(
      channel,
      queue('failing'),
      () => {
        attempts++;
        throw new RangeError('cannot fulfil');
      },
      { onError: (err) => errors.push(err) },
    );
    await inRequest('POST /orders', async () => {
      channel.sendToQueue(queue('failing'), Buffer.from('bad order'));
    });
    const [consumer] = await eventually(() => {
      const spans = consumerSpans(queue('failing'));
      return spans.length === 1 ? spans : undefined;
    });
    expect(consumer?.status.code).toBe(SpanStatusCode.ERROR);
    expect(consumer?.events.some((e) => e.name === 'exception')).toBe(true);
    expect(errors).toHaveLength(1);
    const s = await samples();
    const labels = { messaging_destination_name: queue('failing') };
    expect(sampleValue(s, 'messaging_client_consumed_messages_total', { ...labels, error_type: 'RangeError' })).toBe(1);
    expect(sampleValue(s, 'messaging_process_duration_count', { ...labels, error_type: 'RangeError' })).toBe(1);
    // nacked without requeue: dead-lettered, not redelivered
    await eventually(async () => (await channel.checkQueue(queue('dead'))).messageCount === 1);
    expect(attempts).toBe(1);
    expect((await channel.checkQueue(queue('failing'))).messageCount).toBe(0);
  });

  it('requeues a failed message when asked to, and counts each delivery', async () => {
    const deliveries: boolean[] = [];
    await consume(
      channel,
      queue('retried'),
      (msg) => {
        deliveries.push(msg.fields.redelivered === true);
        if (!msg.fields.redelivered) throw new Error('transient');
      },
      { requeue: true, onError: () => undefined },
    );
    channel.sendToQueue(queue('retried'), Buffer.from('flaky order'));
    await eventually(() => deliveries.length === 2);
    expect(deliveries).toEqual([false, true]);
    const s = await samples();
    const labels = { messaging_destination_name: queue('retried') };
    expect(sampleValue(s, 'messaging_client_consumed_messages_total', labels)).toBe(2);
    expect(sampleValue(s, 'messaging_client_consumed_messages_total', { ...labels, error_type: 'Error' })).toBe(1);
  });

  it('reports queue depth: published messages until they are consumed and acked', async () => {
    const q = queue('depth');
    const watch = watchQueueDepth(connection, [queue('no-such-queue'), q], { intervalMs: 60_000, timeoutMs: 2000 });
    cleanups.push(() => watch.stop());
    for (let i = 0; i < 3; i++) channel.sendToQueue(q, Buffer.from(`job ${i}`));
    const depth = async () => {
      await watch.refresh();
      const s = await samples();
      return {
        depth: sampleValue(s, 'messaging_queue_depth', { messaging_destination_name: q }),
        consumers: sampleValue(s, 'messaging_queue_consumers', { messaging_destination_name: q }),
        missing: sampleValue(s, 'messaging_queue_depth', { messaging_destination_name: queue('no-such-queue') }),
      };
    };
    await eventually(async () => (await depth()).depth === 3);
    expect(await depth()).toEqual({ depth: 3, consumers: 0, missing: Number.NaN }); // a queue that cannot be read
    expect(diagnostics.join('\n')).toContain(`@obs warn: queue depth of ${queue('no-such-queue')}: Operation failed`);

    // a consumer holding one message unacked (prefetch 1): that one leaves the ready count
    const worker = await connection.createChannel();
    cleanups.push(() => worker.close());
    await worker.prefetch(1);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let processed = 0;
    await consume(worker, q, async () => {
      await gate;
      processed++;
    });
    await eventually(async () => (await depth()).depth === 2);
    expect(await depth()).toMatchObject({ depth: 2, consumers: 1 });
    release();
    await eventually(() => processed === 3);
    await eventually(async () => (await depth()).depth === 0);
    await watch.stop();
    const s = await samples(); // stopped: unknown, not a stale value
    expect(sampleValue(s, 'messaging_queue_depth', { messaging_destination_name: q })).toBeNaN();
  });
});

describe('the documentation', () => {
  it('lists every data metric with its labels, and each one is on /metrics after the traffic above', async () => {
    const doc = readFileSync(new URL('../../../docs/data.md', import.meta.url), 'utf8');
    const documented = [...doc.matchAll(/^\| `([a-z_]+)` \| `([a-z._]+)` \|[^|]*\|[^|]*\| ([^|]*) \|/gm)].map((m) => ({
      prometheus: m[1] as string,
      name: m[2] as string,
      labels: [...(m[3] as string).matchAll(/`([a-z_]+)`/g)].map((l) => l[1] as string),
    }));
    const data = [
      METRICS.dbClientOperationDuration,
      METRICS.dbClientConnectionCount,
      METRICS.dbClientConnectionMax,
      METRICS.dbClientConnectionPendingRequests,
      METRICS.cacheRequests,
      METRICS.messagingProcessDuration,
      METRICS.messagingClientConsumedMessages,
      METRICS.messagingClientSentMessages,
      METRICS.messagingQueueDepth,
      METRICS.messagingQueueConsumers,
    ];
    expect(documented.map((d) => d.prometheus).sort()).toEqual(data.map((d) => d.prometheus).sort());
    const { samples: s, body } = await scrape(telemetry.pipeline);
    for (const def of data) {
      const doc = documented.find((d) => d.prometheus === def.prometheus);
      expect(doc?.name, def.prometheus).toBe(def.name);
      expect(doc?.labels.sort(), `${def.prometheus} labels in docs/data.md`).toEqual([...def.labels].sort());
      const series = def.kind === 'histogram' ? `${def.prometheus}_count` : def.prometheus;
      const seen = s.filter((x) => x.name === series);
      expect(seen.length, `${series} on /metrics`).toBeGreaterThan(0);
      const labels = new Set(seen.flatMap((x) => Object.keys(x.labels)));
      for (const label of def.labels) expect([...labels], `${series} has ${label}`).toContain(label);
      expect(body).toContain(
        `# TYPE ${def.prometheus} ${def.kind === 'counter' ? 'counter' : def.kind === 'histogram' ? 'histogram' : 'gauge'}`,
      );
    }
  });

  it('gives PromQL that Prometheus accepts, and a hit rate that matches the scripted reads', () => {
    if (spawnSync('sh', ['-c', 'command -v promtool']).status !== 0) {
      throw new Error('promtool is not on PATH: run .ci/services.sh (installs prometheus)');
    }
    const doc = readFileSync(new URL('../../../docs/data.md', import.meta.url), 'utf8');
    const expressions = [...doc.matchAll(/```promql\n([\s\S]*?)```/g)].flatMap((m) =>
      (m[1] as string)
        .split(/\n\s*\n|\n(?=\S)/)
        .map((e) => e.trim())
        .filter(Boolean),
    );
    expect(expressions.length).toBeGreaterThanOrEqual(8);
    const dir = mkdtempSync(join(tmpdir(), 'obs-data-promql-'));
    try {
      const rules = {
        groups: [{ name: 'data', rules: expressions.map((expr, i) => ({ record: `obs:data_doc:${i}`, expr })) }],
      };
      writeFileSync(join(dir, 'rules.yml'), JSON.stringify(rules));
      // The users cache saw 3 hits and 3 misses (above): the documented hit rate must say 0.5.
      const hitRate = expressions.find((e) => e.includes('cache_result="hit"')) as string;
      const test = {
        rule_files: ['rules.yml'],
        evaluation_interval: '1m',
        tests: [
          {
            interval: '1m',
            input_series: [
              { series: 'cache_requests_total{cache_name="users",cache_result="hit"}', values: '0+3x10' },
              { series: 'cache_requests_total{cache_name="users",cache_result="miss"}', values: '0+3x10' },
              { series: 'cache_requests_total{cache_name="users",cache_result="error"}', values: '0+0x10' },
            ],
            promql_expr_test: [
              { expr: hitRate, eval_time: '10m', exp_samples: [{ labels: '{cache_name="users"}', value: 0.5 }] },
            ],
          },
        ],
      };
      writeFileSync(join(dir, 'test.yml'), JSON.stringify(test));
      const res = spawnSync('promtool', ['test', 'rules', 'test.yml'], { cwd: dir, encoding: 'utf8' });
      expect(res.status, `${res.stdout}\n${res.stderr}`).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
