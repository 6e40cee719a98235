/**
 * `postgresCheck` and `mysqlCheck` given the client the app already has (knex, Prisma, TypeORM,
 * Sequelize, MikroORM) instead of a driver pool, against the real PostgreSQL and MariaDB, and against
 * a port nothing listens on. Each check runs through a health registry, as a readiness probe would.
 */
import { once } from 'node:events';
import { createServer } from 'node:net';
import { type HealthCheck, HealthRegistry, mysqlCheck, postgresCheck, type SqlClient } from '@obs/core';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Database,
  eventually,
  HOST,
  type Made,
  MYSQL_PORT,
  makeKnex,
  makeMikro,
  makePrisma,
  makeSequelize,
  makeTypeorm,
  PG_PORT,
  startProxy,
} from './clients.js';

/** Failures must be reported within this deadline (and well before it, for a refused port). */
const DEADLINE_MS = 3000;
/**
 * A healthy check's own timeout: the first query of a cold client (Prisma starts its engine) took
 * more than the default 1 s on a loaded 2-core machine; these tests are about the answer, not speed.
 */
const HEALTHY = { timeoutMs: 30_000 };
const PORTS: Record<Database, number> = { postgres: PG_PORT, mysql: MYSQL_PORT };
const CHECKS: Record<Database, (db: SqlClient, options?: { timeoutMs?: number }) => HealthCheck> = {
  postgres: postgresCheck,
  mysql: mysqlCheck,
};

let refusedPort: number;
const open: Made[] = [];

beforeAll(async () => {
  const probe = createServer().listen(0, HOST);
  await once(probe, 'listening');
  refusedPort = (probe.address() as { port: number }).port;
  probe.close();
  await once(probe, 'close');
});

afterAll(async () => {
  await Promise.allSettled(open.map((made) => made.close()));
});

async function made<T>(m: Made<T> | Promise<Made<T>>): Promise<T> {
  const resolved = await m;
  open.push(resolved);
  return resolved.client;
}

async function probe(check: HealthCheck) {
  const timeoutMs = Math.max(DEADLINE_MS, check.timeoutMs ?? 0);
  const answer = await new HealthRegistry({ cacheMs: 0, timeoutMs }).add(check).ready();
  return { statusCode: answer.statusCode, result: answer.body.checks[check.name] };
}

const FACTORIES: Record<string, (db: Database, port: number) => Made | Promise<Made>> = {
  knex: makeKnex,
  Prisma: makePrisma,
  Sequelize: makeSequelize,
  MikroORM: makeMikro,
};

describe.each(['postgres', 'mysql'] as const)('%s', (db) => {
  const check = CHECKS[db];

  it.each(Object.keys(FACTORIES))('%s: healthy against the real server', async (name) => {
    const client = await made((FACTORIES[name] as (db: Database, port: number) => Made)(db, PORTS[db]));
    const { statusCode, result } = await probe(check(client as SqlClient, HEALTHY));
    expect(result).toMatchObject({ status: 'ok' });
    expect(statusCode).toBe(200);
  });

  it('TypeORM (an initialized DataSource, and its EntityManager): healthy against the real server', async () => {
    const dataSource = await made(makeTypeorm(db, PORTS[db]));
    for (const client of [dataSource, dataSource.manager]) {
      const { statusCode, result } = await probe(check(client, HEALTHY));
      expect(result).toMatchObject({ status: 'ok' });
      expect(statusCode).toBe(200);
    }
  });

  // What each client says when nothing listens. Prisma's pg adapter names the failure itself; the
  // mariadb driver behind Prisma's MariaDB adapter retries until its acquireTimeout (10 s by default),
  // so the check reaches its own timeout (1 s) first.
  const REFUSED: Record<string, string> = {
    knex: 'ECONNREFUSED',
    Prisma: db === 'postgres' ? 'DatabaseNotReachable' : 'timeout',
    Sequelize: 'ECONNREFUSED',
    MikroORM: 'ECONNREFUSED',
  };

  it.each(Object.keys(FACTORIES))('%s: fails with what the driver says when nothing listens', async (name) => {
    const client = await made((FACTORIES[name] as (db: Database, port: number) => Made)(db, refusedPort));
    const started = performance.now();
    const { statusCode, result } = await probe(check(client as SqlClient));
    expect(statusCode).toBe(503);
    expect(result?.error).toBe(REFUSED[name]);
    expect(performance.now() - started).toBeLessThan(DEADLINE_MS);
  });

  it('TypeORM: fails with what the driver says once the database is gone', async () => {
    const proxy = await startProxy(PORTS[db]);
    const dataSource = await made(makeTypeorm(db, proxy.port));
    expect((await probe(check(dataSource, HEALTHY))).statusCode).toBe(200);
    await proxy.down();
    // once the pool has dropped its broken connection, the next query has to connect again
    const driver = dataSource.driver as unknown as { master?: pg.Pool; pool?: { _allConnections: unknown[] } };
    await eventually(() => (driver.master ? driver.master.totalCount : driver.pool?._allConnections.length) === 0);
    const { statusCode, result } = await probe(check(dataSource));
    expect(statusCode).toBe(503);
    expect(result?.error).toBe('ECONNREFUSED');
  });

  it('a statement the server refuses is reported by its code', async () => {
    const knex = await made(makeKnex(db, PORTS[db]));
    const { statusCode, result } = await probe(
      (db === 'postgres' ? postgresCheck : mysqlCheck)(knex, { ...HEALTHY, query: 'SELECT * FROM obs_no_such_table' }),
    );
    expect(statusCode).toBe(503);
    expect(result?.error).toBe(db === 'postgres' ? '42P01' : 'ER_NO_SUCH_TABLE');
  });
});

describe('knex queries handed over as a query function', () => {
  // knex's builders are EventEmitters and thenables at once: the check must await the promise, not
  // wait for an `end` event that never comes (it answered 503 "timeout" against a healthy database).
  it('is healthy when query() returns knex.raw(), for MariaDB and PostgreSQL', async () => {
    for (const db of ['mysql', 'postgres'] as const) {
      const knex = await made(makeKnex(db, PORTS[db]));
      const raw = knex.raw('SELECT 1');
      expect(typeof raw.then).toBe('function');
      expect(typeof (raw as unknown as { once?: unknown }).once).toBe('function');
      const { statusCode, result } = await probe(CHECKS[db]({ query: (sql: string) => knex.raw(sql) }, HEALTHY));
      expect(result).toMatchObject({ status: 'ok' });
      expect(statusCode).toBe(200);
    }
  });
});
