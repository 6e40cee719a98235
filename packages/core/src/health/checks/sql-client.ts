/**
 * How the SQL checks run one statement on whatever client the app reaches its database with: a
 * driver's pool or connection (`pg`, `mysql2`, `mysql`), knex, Prisma, TypeORM, Sequelize or
 * MikroORM. Everything is duck-typed: nothing is imported from a driver or an ORM.
 *
 * | client | how the statement runs |
 * | --- | --- |
 * | knex instance (`knex({...})`) | `knex.raw(sql)` |
 * | Prisma client (`new PrismaClient({ adapter })`) | `prisma.$queryRawUnsafe(sql)` |
 * | MikroORM (`MikroORM.init()`), or its `orm.em` | `em.getConnection().execute(sql)` |
 * | mysql2 callback API (pool, connection) | `query(sql, callback)` |
 * | anything else with `query(sql)`: pg `Pool`/`Client`, `mysql2/promise`, TypeORM `DataSource`/`EntityManager`, `Sequelize` | `query(sql)`, a promise (or a callback-API query's `end`/`error` events) |
 */
import type { EventEmitter } from 'node:events';
import { isThenable } from './common.js';

/** knex: the instance `knex({ client, connection })` returns (a function with `raw` and `client`). */
export interface KnexLike {
  (...args: never[]): unknown;
  raw(sql: string): PromiseLike<unknown>;
  client: object;
}

/** Prisma Client (with a driver adapter, or the classic engine). */
export interface PrismaLike {
  $queryRawUnsafe(sql: string): PromiseLike<unknown>;
}

/** MikroORM's SQL connection (`orm.em.getConnection()`). */
interface MikroConnectionLike {
  execute(sql: string): PromiseLike<unknown>;
}

/** MikroORM: the `MikroORM` instance, or an `EntityManager` (`orm.em`, a fork). */
export type MikroOrmLike = { em: { getConnection(): MikroConnectionLike } } | EntityManagerLike;

interface EntityManagerLike {
  getConnection(): MikroConnectionLike;
  fork(...args: never[]): unknown;
}

/** A driver pool or connection, TypeORM's `DataSource`, Sequelize: anything with `query(sql)`. */
export interface SqlQueryable {
  query(sql: string, ...rest: never[]): unknown;
}

/** Every client the SQL checks take. */
export type SqlClient = SqlQueryable | KnexLike | PrismaLike | MikroOrmLike;

/** A function that runs `sql` on the client and settles when the database answered. */
export type SqlRunner = (sql: string) => Promise<unknown>;

type Obj = Record<string, unknown>;

function isKnex(db: unknown): db is KnexLike {
  return (
    typeof db === 'function' && typeof (db as unknown as Obj).raw === 'function' && !!(db as unknown as Obj).client
  );
}

function mikroConnection(db: Obj): (() => MikroConnectionLike) | undefined {
  const em = db.em as Obj | undefined;
  if (em && typeof em.getConnection === 'function') return () => (em.getConnection as () => MikroConnectionLike)();
  // an EntityManager (mysql2 pools also have getConnection, but no fork)
  if (typeof db.getConnection === 'function' && typeof db.fork === 'function') {
    return () => (db.getConnection as () => MikroConnectionLike)();
  }
  return undefined;
}

/** Wait for what `query(sql)` returned: a promise, a thenable, or a callback-API query (an EventEmitter). */
async function settle(result: unknown, who: string): Promise<unknown> {
  // A thenable first: knex's builders are EventEmitters *and* thenables, and only their promise settles.
  // A mysql2 callback-API query is a thenable whose `then` throws: it never gets here (see sqlRunner).
  if (isThenable(result)) return await result;
  const query = result as EventEmitter | undefined;
  if (query && typeof query.once === 'function') {
    return await new Promise<void>((resolve, reject) => {
      query.once('error', reject);
      query.once('end', () => resolve());
    });
  }
  throw new TypeError(`${who}: query() returned neither a promise nor a query`);
}

/**
 * How to run a statement on `db`, or undefined when `db` is none of the {@link SqlClient} shapes.
 * @param who the check's factory name, for error messages
 */
export function sqlRunner(db: unknown, who: string): SqlRunner | undefined {
  if (isKnex(db)) return (sql) => Promise.resolve(db.raw(sql));
  if (!db || typeof db !== 'object') return undefined;
  const o = db as Obj;
  if (typeof o.$queryRawUnsafe === 'function') return (sql) => Promise.resolve((db as PrismaLike).$queryRawUnsafe(sql));
  const mikro = mikroConnection(o);
  if (mikro) return (sql) => Promise.resolve(mikro().execute(sql));
  if (typeof o.query !== 'function') return undefined;
  const query = o.query as (sql: string, callback?: (err: unknown) => void) => unknown;
  // mysql2's callback API (its pools and connections have `promise()`): the query without a callback
  // would be a thenable whose `then` prints to stdout and throws. Give it a callback instead.
  if (typeof o.promise === 'function') {
    return (sql) =>
      new Promise((resolve, reject) => {
        query.call(db, sql, (err: unknown) => (err ? reject(err) : resolve(undefined)));
      });
  }
  return (sql) => settle(query.call(db, sql), who);
}
