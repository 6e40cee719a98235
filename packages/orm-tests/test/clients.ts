/**
 * The clients apps reach PostgreSQL and MariaDB with, each made against a given port: the real server
 * (5432, 3306; `.ci/services.sh` starts them) or a port nothing listens on. Every factory returns the
 * client and a function that closes it.
 */
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { MikroORM as MikroMysql } from '@mikro-orm/mysql';
import { MikroORM as MikroPostgres } from '@mikro-orm/postgresql';
import { PrismaMariaDb } from '@prisma/adapter-mariadb';
import { PrismaPg } from '@prisma/adapter-pg';
import knexFactory, { type Knex } from 'knex';
import mariadb from 'mariadb';
import pg from 'pg';
import { Sequelize } from 'sequelize';
import { DataSource } from 'typeorm';
import { PrismaClient as PrismaMysqlClient } from '../dist/prisma-mysql/client.js';
import { PrismaClient as PrismaPostgresClient } from '../dist/prisma-postgres/client.js';

export const HOST = '127.0.0.1';
export const PG_PORT = 5432;
export const MYSQL_PORT = 3306;

export type Database = 'postgres' | 'mysql';

export interface Made<T = unknown> {
  client: T;
  close(): Promise<unknown>;
}

export function pgUrl(port: number): string {
  return `postgresql://postgres@${HOST}:${port}/test`;
}

export function mysqlUrl(port: number): string {
  return `mysql://root@${HOST}:${port}/test`;
}

export function makeKnex(db: Database, port: number, max = 4): Made<Knex> {
  const client = knexFactory({
    client: db === 'postgres' ? 'pg' : 'mysql2',
    connection:
      db === 'postgres'
        ? { host: HOST, port, user: 'postgres', database: 'test' }
        : { host: HOST, port, user: 'root', password: '', database: 'test' },
    pool: { min: 0, max },
    acquireConnectionTimeout: 5000,
  });
  return { client, close: () => client.destroy() };
}

/** Prisma 7 without the Rust engine: the generated client over a driver adapter, given its pool (pg, mariadb). */
export function makePrisma(
  db: Database,
  port: number,
): Made<PrismaPostgresClient | PrismaMysqlClient> & {
  /** The pool given to the driver adapter. */
  pool: pg.Pool | mariadb.Pool;
} {
  if (db === 'postgres') {
    const pool = new pg.Pool({ connectionString: pgUrl(port), max: 3, connectionTimeoutMillis: 2000 });
    const client = new PrismaPostgresClient({ adapter: new PrismaPg(pool) });
    return {
      client,
      pool,
      close: async () => {
        await client.$disconnect();
        await pool.end();
      },
    };
  }
  const mariadbPool = mariadb.createPool({
    host: HOST,
    port,
    user: 'root',
    database: 'test',
    // one connection: the driver fills its pool up to its minimum idle count in the background
    connectionLimit: 1,
    connectTimeout: 2000,
  });
  const client = new PrismaMysqlClient({ adapter: new PrismaMariaDb(mariadbPool) });
  return {
    client,
    pool: mariadbPool,
    close: async () => {
      await client.$disconnect();
      await mariadbPool.end();
    },
  };
}

/** An initialized TypeORM DataSource. */
export async function makeTypeorm(db: Database, port: number, poolSize = 4): Promise<Made<DataSource>> {
  const client = new DataSource(
    db === 'postgres'
      ? { type: 'postgres', host: HOST, port, username: 'postgres', database: 'test', poolSize }
      : { type: 'mysql', host: HOST, port, username: 'root', password: '', database: 'test', poolSize },
  );
  await client.initialize();
  return { client, close: () => client.destroy() };
}

export function makeSequelize(db: Database, port: number, max = 4): Made<Sequelize> {
  const client = new Sequelize(db === 'postgres' ? pgUrl(port) : mysqlUrl(port), {
    logging: false,
    pool: { max, min: 0, acquire: 5000 },
  });
  return { client, close: () => client.close() };
}

/** MikroORM 7 (kysely over pg or mysql2), with no entities; `connect: false` lets it start with the database down. */
export async function makeMikro(db: Database, port: number): Promise<Made<MikroPostgres | MikroMysql>> {
  const options = {
    clientUrl: db === 'postgres' ? pgUrl(port) : mysqlUrl(port),
    entities: [],
    discovery: { warnWhenNoEntities: false },
    connect: false,
  };
  const client = db === 'postgres' ? await MikroPostgres.init(options) : await MikroMysql.init(options);
  return { client, close: () => client.close() };
}

/**
 * A TCP proxy to a real server that can be taken down: `down()` closes every proxied connection and
 * stops listening, so the clients behind it see the database go away after they connected.
 */
export async function startProxy(targetPort: number): Promise<{ port: number; down(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((inbound) => {
    const outbound = connect(targetPort, HOST);
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  server.listen(0, HOST);
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    async down() {
      const closed = new Promise((resolve) => server.close(resolve));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

/** Poll until `check` returns true (rejects after `timeoutMs`). */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
