/**
 * `obs.data.instrumentPool()` given the client the app holds (knex, TypeORM, Sequelize, MikroORM, and
 * the pg pool behind Prisma's adapter), against the real PostgreSQL and MariaDB: the
 * `db.client.connection.*` gauges on `/metrics` follow connections as the app checks them out and
 * gives them back, and an ended client is reported empty, then forgotten.
 */
import { getObs, type Obs, start } from '@obs/core';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Database,
  eventually,
  type Made,
  MYSQL_PORT,
  makeKnex,
  makeMikro,
  makePrisma,
  makeSequelize,
  makeTypeorm,
  PG_PORT,
} from './clients.js';

const PORTS: Record<Database, number> = { postgres: PG_PORT, mysql: MYSQL_PORT };
const SYSTEMS: Record<Database, string> = { postgres: 'postgresql', mysql: 'mysql' };
const RUN = `${process.pid}`;
let obs: Obs;
const open: Made[] = [];

beforeAll(() => {
  start({ serviceName: 'orm-tests', tracesExporter: 'none', handleSignals: false, logLevel: 'silent' });
  obs = getObs();
});

afterAll(async () => {
  await Promise.allSettled(open.map((made) => made.close()));
  await obs.shutdown();
});

async function made<T>(m: Made<T> | Promise<Made<T>>): Promise<T> {
  const resolved = await m;
  open.push(resolved);
  return resolved.client;
}

/** The gauges of one pool name, as `/metrics` shows them (undefined: no such series). */
async function gauges(name: string) {
  const { body } = await obs.metrics.render();
  const value = (metric: string, extra = '') => {
    const line = body
      .split('\n')
      .find(
        (l) =>
          l.startsWith(`${metric}{`) &&
          l.includes(`db_client_connection_pool_name="${name}"`) &&
          (extra === '' || l.includes(extra)),
      );
    return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
  };
  return {
    used: value('db_client_connection_count', 'db_client_connection_state="used"'),
    idle: value('db_client_connection_count', 'db_client_connection_state="idle"'),
    pending: value('db_client_connection_pending_requests'),
    max: value('db_client_connection_max'),
    system: /db_system_name="([^"]+)"/.exec(
      body.split('\n').find((l) => l.includes(`db_client_connection_pool_name="${name}"`)) ?? '',
    )?.[1],
  };
}

describe.each(['postgres', 'mysql'] as const)('%s', (db) => {
  it("knex: its tarn pool's used, idle and pending connections and its maximum", async () => {
    const knex = await made(makeKnex(db, PORTS[db], 2));
    const name = `knex-${db}-${RUN}`;
    obs.data.instrumentPool(knex, { name });
    expect(await gauges(name)).toEqual({ used: 0, idle: 0, pending: 0, max: 2, system: SYSTEMS[db] });
    const a = await knex.transaction();
    const b = await knex.transaction();
    expect(await gauges(name)).toMatchObject({ used: 2, idle: 0, pending: 0 });
    const requested = new Promise((resolve) => knex.client.pool?.on('acquireRequest', resolve));
    const settled = knex.raw('SELECT 1').then(() => undefined); // the pool is exhausted: this one waits
    await requested;
    expect(await gauges(name)).toMatchObject({ used: 2, pending: 1 });
    await a.commit();
    await settled;
    await b.commit();
    // knex gives a transaction's connection back after commit() has resolved
    await eventually(async () => (await gauges(name)).used === 0);
    expect(await gauges(name)).toMatchObject({ used: 0, idle: 2, pending: 0 });
  });

  it('knex: named host:port/database by default, and reported empty once destroyed', async () => {
    const made1 = makeKnex(db, PORTS[db]);
    const knex: Knex = made1.client;
    obs.data.instrumentPool(knex);
    await knex.raw('SELECT 1');
    const name = `127.0.0.1:${PORTS[db]}/test`;
    expect(await gauges(name)).toMatchObject({ idle: 1, system: SYSTEMS[db] });
    await knex.destroy();
    // the SDK keeps exporting the last value of a series no callback observes any more: zero is the truth
    expect(await gauges(name)).toMatchObject({ used: 0, idle: 0, pending: 0 });
    expect(await gauges(name)).toMatchObject({ used: 0, idle: 0, pending: 0 });
  });

  it('Sequelize: its pool, and reported empty once closed', async () => {
    const sequelize = await made(makeSequelize(db, PORTS[db], 3));
    const name = `sequelize-${db}-${RUN}`;
    obs.data.instrumentPool(sequelize, { name });
    const t = await sequelize.transaction();
    expect(await gauges(name)).toEqual({ used: 1, idle: 0, pending: 0, max: 3, system: SYSTEMS[db] });
    await t.commit();
    expect(await gauges(name)).toMatchObject({ used: 0, idle: 1 });
    await sequelize.close();
    expect(await gauges(name)).toMatchObject({ used: 0, idle: 0, max: 0 });
  });

  it("TypeORM: an initialized DataSource's driver pool", async () => {
    const dataSource = await made(makeTypeorm(db, PORTS[db], 3));
    const name = `typeorm-${db}-${RUN}`;
    obs.data.instrumentPool(dataSource, { name });
    const runner = dataSource.createQueryRunner();
    await runner.connect();
    expect(await gauges(name)).toMatchObject({ used: 1, pending: 0, max: 3, system: SYSTEMS[db] });
    await runner.release();
    expect(await gauges(name)).toMatchObject({ used: 0 });
    expect((await gauges(name)).idle).toBeGreaterThanOrEqual(1);
  });

  it('MikroORM 7: the pool its connection resolves to, registered once resolved', async () => {
    const orm = await made(makeMikro(db, PORTS[db]));
    const name = `mikro-${db}-${RUN}`;
    obs.data.instrumentPool(orm, { name });
    await orm.em.getConnection().execute('SELECT 1');
    // getNativeClient() resolves in its own time: wait for the series
    await eventually(async () => (await gauges(name)).idle !== undefined);
    const g = await gauges(name);
    expect(g).toMatchObject({ used: 0, pending: 0, system: SYSTEMS[db] });
    expect(g.idle).toBeGreaterThanOrEqual(1);
  });
});

describe('Prisma', () => {
  it("the pg pool given to Prisma's adapter (Prisma Client itself is refused with a clear message)", async () => {
    const prisma = makePrisma('postgres', PG_PORT);
    open.push(prisma);
    expect(() => obs.data.instrumentPool(prisma.client)).toThrow(/driver adapter/);
    const name = `prisma-pg-${RUN}`;
    obs.data.instrumentPool(prisma.pool, { name });
    await prisma.client.$queryRawUnsafe('SELECT 1');
    expect(await gauges(name)).toEqual({ used: 0, idle: 1, pending: 0, max: 3, system: 'postgresql' });
  });

  it("the mariadb pool given to Prisma's MariaDB adapter (no maximum: the driver keeps it private)", async () => {
    const prisma = makePrisma('mysql', MYSQL_PORT);
    open.push(prisma);
    const name = `prisma-mariadb-${RUN}`;
    obs.data.instrumentPool(prisma.pool, { name });
    await prisma.client.$queryRawUnsafe('SELECT 1');
    expect(await gauges(name)).toEqual({ used: 0, idle: 1, pending: 0, max: undefined, system: 'mariadb' });
    const tx = prisma.client.$transaction(async (t) => {
      expect(await gauges(name)).toMatchObject({ used: 1, idle: 0, pending: 0 });
      await t.$queryRawUnsafe('SELECT 1');
    });
    await tx;
    expect(await gauges(name)).toMatchObject({ used: 0, idle: 1, pending: 0 });
    await prisma.close();
    expect(await gauges(name)).toMatchObject({ used: 0, idle: 0, pending: 0 });
  });
});
