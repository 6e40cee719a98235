/**
 * The reference services on their real dependencies (docs/reference-service.md, docs/data.md):
 * started with `DATABASE_URL`, `REDIS_URL` and `AMQP_URL` pointing at the machine's PostgreSQL, Redis
 * and RabbitMQ (`.ci/services.sh` starts them), observed through /metrics, the OTLP receiver and the
 * service's log lines:
 *
 * - the `users` table is created and seeded (ids 1..1000) at start-up;
 * - a user read is a PostgreSQL query in a child span of the request, recorded as the parameterised
 *   statement (no literal id), going through the Redis `users` cache: a second read is a hit, without
 *   a query;
 * - an order is published to the orders queue in the request's trace and consumed by the same
 *   process in that trace (`Order processed` with the request's trace id);
 * - the pool, operation and messaging metrics of docs/data.md are exposed.
 *
 * Isolation from other users of the same servers: a database of this run's own (each target starts
 * with no `users` table), a Redis database index of its own, and a queue per target
 * (`ORDERS_QUEUE`), all removed afterwards.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { type OtlpReceiver, type ReceivedSpan, type Service, startOtlpReceiver, startService } from '@obs/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TARGETS } from './targets.js';

const SERVER = 2;
const CLIENT = 3;
const PRODUCER = 4;
const CONSUMER = 5;
const RUN = `${process.pid}_${randomBytes(3).toString('hex')}`;
const DATABASE = `obs_conformance_data_${RUN}`;
const ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/test';
const DATABASE_URL = `postgres://postgres@127.0.0.1:5432/${DATABASE}`;
const POOL_NAME = `127.0.0.1:5432/${DATABASE}`;
const REDIS_URL = 'redis://127.0.0.1:6379/5';
const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';

// The drivers, from an example's dependencies (the conformance package has none of its own).
const requireDriver = createRequire(fileURLToPath(new URL('../../../examples/express/package.json', import.meta.url)));

interface PgPool {
  query<R = Record<string, unknown>>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
  end(): Promise<void>;
}
interface RedisClient {
  del(key: string): Promise<number>;
  ttl(key: string): Promise<number>;
  quit(): Promise<unknown>;
}
interface AmqpConnection {
  createChannel(): Promise<{ deleteQueue(queue: string): Promise<unknown>; close(): Promise<void> }>;
  close(): Promise<void>;
}
const pg = requireDriver('pg') as { Pool: new (config: object) => PgPool };
const { Redis } = requireDriver('ioredis') as { Redis: new (url: string) => RedisClient };
const amqp = requireDriver('amqplib') as { connect(url: string): Promise<AmqpConnection> };

const json = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

const traceparent = () => {
  const traceId = randomBytes(16).toString('hex');
  return { traceId, header: `00-${traceId}-${randomBytes(8).toString('hex')}-01` };
};

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus exposition. */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key as string] = value as string;
    }
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The samples of `name` that carry all of `labels`. */
function series(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** The value of the one series of `name` with `labels`; NaN when there is none. */
function value(samples: Sample[], name: string, labels: Record<string, string>): number {
  const found = series(samples, name, labels);
  if (found.length > 1) throw new Error(`${found.length} series of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value ?? Number.NaN;
}

/** A counter's value: 0 before its first increment. */
function count(samples: Sample[], name: string, labels: Record<string, string>): number {
  const found = value(samples, name, labels);
  return Number.isNaN(found) ? 0 : found;
}

let admin: PgPool;
let redis: RedisClient;
let rabbit: AmqpConnection;

beforeAll(async () => {
  admin = new pg.Pool({ connectionString: ADMIN_URL, max: 1 });
  await admin.query(`CREATE DATABASE ${DATABASE}`);
  redis = new Redis(REDIS_URL);
  rabbit = await amqp.connect(AMQP_URL);
});

afterAll(async () => {
  await redis?.quit();
  await rabbit?.close();
  await admin?.query(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
  await admin?.end();
});

describe.each(TARGETS)('$name', (target) => {
  const queue = `orders.conformance.${target.name}.${RUN}`;
  let receiver: OtlpReceiver;
  let service: Service;
  let db: PgPool;

  beforeAll(async () => {
    db = new pg.Pool({ connectionString: DATABASE_URL, max: 1 });
    await db.query('DROP TABLE IF EXISTS users'); // each target creates it
    receiver = await startOtlpReceiver();
    service = await startService({
      cwd: target.cwd,
      entry: target.entry,
      env: {
        ...target.env,
        OTEL_SERVICE_NAME: `data-${target.name}`,
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_BSP_SCHEDULE_DELAY: '100',
        OBS_SHUTDOWN_DELAY_MS: '0',
        DATABASE_URL,
        REDIS_URL,
        AMQP_URL,
        ORDERS_QUEUE: queue,
      },
    });
  });

  afterAll(async () => {
    await service?.stop('SIGTERM');
    await receiver?.close();
    const channel = await rabbit.createChannel();
    await channel.deleteQueue(queue);
    await channel.close();
    await db?.end();
  });

  const metrics = async () => parseExposition(await (await service.fetch('/metrics')).text());

  /** The request's SERVER span, once its trace has arrived. */
  const serverSpanOf = async (traceId: string): Promise<ReceivedSpan> => {
    const [span] = await receiver.waitForSpans((s) => s.traceId === traceId && s.kind === SERVER);
    if (!span) throw new Error(`no SERVER span for trace ${traceId}`);
    return span;
  };

  /** Whether `ancestor` is the parent of `span`, or the parent's parent, and so on. */
  const descends = (span: ReceivedSpan, ancestor: ReceivedSpan): boolean => {
    for (let id = span.parentSpanId; id; id = receiver.spans.find((s) => s.spanId === id)?.parentSpanId) {
      if (id === ancestor.spanId) return true;
    }
    return false;
  };

  /** The database operations (queries or commands: not the pg connection spans) of a trace. */
  const spansOf = (traceId: string, system: string) =>
    receiver.spans.filter(
      (s) =>
        s.traceId === traceId &&
        s.kind === CLIENT &&
        s.attributes['db.system.name'] === system &&
        s.attributes['db.query.text'] !== undefined,
    );

  /** A user id whose cache entry is gone: its next read is a miss. */
  const uncachedUser = async () => {
    const id = 2 + Math.floor(Math.random() * 998);
    await redis.del(`user:${id}`);
    return id;
  };

  it('creates the users table and seeds users 1..1000 at start-up', async () => {
    // The seeding starts at start-up without holding it; a read from the database waits for it to end
    // (or seeds, when the start-up seeding failed: a connection slower than the app's 2 s timeout on a
    // busy machine). An uncached user: a cache hit (Redis is shared by every target and run) would
    // answer without the database.
    expect((await service.fetch(`/api/v1/users/${await uncachedUser()}`)).status).toBe(200);
    const { rows } = await db.query<{ total: number; matching: number; lowest: number; highest: number }>(
      `SELECT count(*)::int AS total, min(id) AS lowest, max(id) AS highest,
              count(*) FILTER (WHERE name = 'User ' || id AND email = 'user' || id || '@example.com')::int AS matching
         FROM users`,
    );
    expect(rows[0]).toEqual({ total: 1000, matching: 1000, lowest: 1, highest: 1000 });
  });

  it('reads a user from PostgreSQL in a child span of the request, as a parameterised statement', async () => {
    const id = await uncachedUser();
    const tp = traceparent();
    const res = await service.fetch(`/api/v1/users/${id}`, { headers: { traceparent: tp.header } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: String(id), name: `User ${id}`, email: `user${id}@example.com` });

    const server = await serverSpanOf(tp.traceId);
    const [query] = await receiver.waitFor(
      () => spansOf(tp.traceId, 'postgresql').length > 0 && spansOf(tp.traceId, 'postgresql'),
    );
    expect(query?.name).toBe('SELECT users');
    expect(query?.attributes).toMatchObject({
      'db.namespace': DATABASE,
      'db.operation.name': 'SELECT',
      'db.collection.name': 'users',
    });
    const text = String(query?.attributes['db.query.text']);
    expect(text).toMatch(/^SELECT .* FROM users WHERE id = \$1$/);
    expect(text).not.toMatch(new RegExp(`\\b${id}\\b`));
    expect(descends(query as ReceivedSpan, server)).toBe(true);
    // the read went through the cache: a Redis GET (a miss), then a SET, in the request too
    const redisOps = spansOf(tp.traceId, 'redis');
    expect(redisOps.map((s) => s.name).sort()).toEqual(['GET', 'SET']);
    for (const op of redisOps) expect(descends(op, server)).toBe(true);
  });

  it('answers a second read of the same user from the Redis cache: a hit, with no query', async () => {
    const id = await uncachedUser();
    const users = { cache_name: 'users' };
    const before = await metrics();
    const first = traceparent();
    expect((await service.fetch(`/api/v1/users/${id}`, { headers: { traceparent: first.header } })).status).toBe(200);
    const afterFirst = await metrics();
    const second = traceparent();
    const res = await service.fetch(`/api/v1/users/${id}`, { headers: { traceparent: second.header } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: String(id), name: `User ${id}`, email: `user${id}@example.com` });
    const afterSecond = await metrics();

    const reads = (samples: Sample[], result: string) =>
      count(samples, 'cache_requests_total', { ...users, cache_result: result });
    expect(reads(afterFirst, 'miss') - reads(before, 'miss')).toBe(1);
    expect(reads(afterFirst, 'hit') - reads(before, 'hit')).toBe(0);
    expect(reads(afterSecond, 'hit') - reads(afterFirst, 'hit')).toBe(1);
    expect(reads(afterSecond, 'miss') - reads(afterFirst, 'miss')).toBe(0);

    // Kept in Redis for 60 s.
    const ttl = await redis.ttl(`user:${id}`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60);

    await serverSpanOf(first.traceId);
    await serverSpanOf(second.traceId);
    expect(spansOf(first.traceId, 'postgresql')).toHaveLength(1);
    expect(spansOf(second.traceId, 'postgresql')).toHaveLength(0);
    expect(spansOf(second.traceId, 'redis').map((s) => s.name)).toEqual(['GET']);
  });

  it('publishes an order to the queue and processes it in the trace of the request', async () => {
    const tp = traceparent();
    const res = await service.fetch('/api/v1/orders', json({ amount: 42 }, { traceparent: tp.header }));
    expect(res.status).toBe(201);
    const order = (await res.json()) as { id: string; amount: number; payment: string };
    expect(order).toEqual({ id: expect.stringMatching(/^[0-9a-f]+$/), amount: 42, payment: 'captured' });

    const processed = await service.waitForLog((l) => l.msg === 'Order processed' && l.order_id === order.id);
    expect(processed).toMatchObject({ level: 'info', trace_id: tp.traceId, amount: 42 });

    const server = await serverSpanOf(tp.traceId);
    const [publish] = await receiver.waitForSpans((s) => s.traceId === tp.traceId && s.kind === PRODUCER);
    const [consume] = await receiver.waitForSpans((s) => s.kind === CONSUMER && s.traceId === tp.traceId);
    expect(publish?.name).toBe(`publish ${queue}`);
    expect(publish?.attributes).toMatchObject({
      'messaging.system': 'rabbitmq',
      'messaging.operation.type': 'send',
      'messaging.destination.name': queue,
    });
    expect(descends(publish as ReceivedSpan, server)).toBe(true);
    expect(consume?.name).toBe(`process ${queue}`);
    expect(consume?.parentSpanId).toBe(publish?.spanId);
    expect(consume?.attributes).toMatchObject({
      'messaging.system': 'rabbitmq',
      'messaging.operation.type': 'process',
      'messaging.destination.name': queue,
    });
    expect(processed.span_id).toBe(consume?.spanId);
  });

  it('publishes nothing for a declined payment, and keeps the contract on unknown users', async () => {
    const tp = traceparent();
    const res = await service.fetch('/api/v1/orders', json({ amount: 13 }, { traceparent: tp.header }));
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: 'Failed to create order' });
    for (const path of ['/api/v1/users/1001', '/api/v1/users/99999999999', '/api/v1/users/abc']) {
      const user = await service.fetch(path);
      expect(user.status).toBe(404);
      expect(await user.json()).toEqual({ error: 'User not found' });
    }
    await serverSpanOf(tp.traceId);
    expect(receiver.spans.filter((s) => s.traceId === tp.traceId && s.kind === PRODUCER)).toEqual([]);
  });

  it('exposes the pool, operation and messaging metrics of docs/data.md', async () => {
    const id = await uncachedUser();
    expect((await service.fetch(`/api/v1/users/${id}`)).status).toBe(200);
    const before = await metrics();
    const sent = { messaging_system: 'rabbitmq', messaging_destination_name: queue };
    const order = (await (await service.fetch('/api/v1/orders', json({ amount: 7 }))).json()) as { id: string };
    await service.waitForLog((l) => l.msg === 'Order processed' && l.order_id === order.id);
    const samples = await metrics();

    const pool = { db_client_connection_pool_name: POOL_NAME, db_system_name: 'postgresql' };
    for (const state of ['idle', 'used']) {
      expect(
        series(samples, 'db_client_connection_count', { ...pool, db_client_connection_state: state }),
      ).toHaveLength(1);
    }
    expect(
      value(samples, 'db_client_connection_count', { ...pool, db_client_connection_state: 'idle' }),
    ).toBeGreaterThan(0);
    expect(series(samples, 'db_client_connection_pending_requests', pool)).toHaveLength(1);
    expect(value(samples, 'db_client_connection_max', pool)).toBe(5);

    const select = { db_system_name: 'postgresql', db_namespace: DATABASE, db_operation_name: 'SELECT' };
    expect(
      value(samples, 'db_client_operation_duration_count', { ...select, db_collection_name: 'users' }),
    ).toBeGreaterThan(0);
    expect(
      series(samples, 'db_client_operation_duration_bucket', { ...select, db_collection_name: 'users' }).length,
    ).toBeGreaterThan(1);
    expect(
      value(samples, 'db_client_operation_duration_count', { db_system_name: 'redis', db_operation_name: 'GET' }),
    ).toBeGreaterThan(0);

    const published = { ...sent, messaging_operation_name: 'publish' };
    const sentTotal = 'messaging_client_sent_messages_total';
    expect(value(samples, sentTotal, published) - count(before, sentTotal, published)).toBe(1);
    const processed = { ...sent, messaging_operation_name: 'process' };
    const consumed = series(samples, 'messaging_client_consumed_messages_total', processed);
    expect(consumed.filter((s) => !s.labels.error_type).map((s) => s.value)).toEqual([
      count(before, 'messaging_client_consumed_messages_total', processed) + 1,
    ]);
    expect(consumed.filter((s) => s.labels.error_type)).toEqual([]);
    expect(value(samples, 'messaging_process_duration_count', processed)).toBeGreaterThan(0);
    expect(value(samples, 'messaging_queue_consumers', sent)).toBe(1);
    expect(value(samples, 'messaging_queue_depth', sent)).toBe(0);
  });
});
