/**
 * PostgreSQL: a `pg` `Pool`, `Client` or `PoolClient`, or the client the app reaches the database
 * with (knex, Prisma, TypeORM, Sequelize, MikroORM; see ./sql-client.ts). Nothing is imported from a
 * driver or an ORM. Give a `pg` pool a `connectionTimeoutMillis`: without one, `pg` waits for an
 * unanswered connection forever (the check still fails at its timeout).
 */
import type { HealthCheck } from '../registry.js';
import { type CheckOptions, makeCheck } from './common.js';
import { type SqlClient, sqlRunner } from './sql-client.js';

/** The part of a `pg` Pool or Client the check uses. */
export interface PgQueryable {
  query(text: string): Promise<unknown>;
}

/** Options of {@link postgresCheck}. */
export interface PostgresCheckOptions extends CheckOptions {
  /** The statement to run. Default `SELECT 1`. */
  query?: string;
}

/**
 * A check that runs `SELECT 1` (default name `postgres`).
 *
 * ```js
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, connectionTimeoutMillis: 2000 });
 * getObs().health.add(postgresCheck(pool));
 * getObs().health.add(postgresCheck(knex)); // or a PrismaClient, TypeORM DataSource, Sequelize, MikroORM
 * ```
 * @throws TypeError when `db` is none of the clients above
 */
export function postgresCheck(db: PgQueryable | SqlClient, options: PostgresCheckOptions = {}): HealthCheck {
  const run = sqlRunner(db, 'postgresCheck');
  if (!run) {
    throw new TypeError('postgresCheck needs a pg Pool or Client, knex, Prisma, TypeORM, Sequelize or MikroORM');
  }
  const statement = options.query ?? 'SELECT 1';
  return makeCheck('postgres', options, () => run(statement));
}
