/**
 * MySQL and MariaDB: a `mysql2` pool or connection (promise or callback API), or the client the app
 * reaches the database with (knex, Prisma, TypeORM, Sequelize, MikroORM; see ./sql-client.ts).
 * Nothing is imported from a driver or an ORM.
 */
import type { HealthCheck } from '../registry.js';
import { type CheckOptions, makeCheck } from './common.js';
import { type SqlClient, sqlRunner } from './sql-client.js';

/** The part of a `mysql2` pool or connection the check uses. */
export interface MysqlQueryable {
  query(sql: string): unknown;
}

/** Options of {@link mysqlCheck}. */
export interface MysqlCheckOptions extends CheckOptions {
  /** The statement to run. Default `SELECT 1`. */
  query?: string;
}

/**
 * A check that runs `SELECT 1` (default name `mysql`).
 *
 * ```js
 * const pool = mysql.createPool(process.env.MYSQL_URL); // or mysql2/promise
 * getObs().health.add(mysqlCheck(pool));
 * getObs().health.add(mysqlCheck(knex)); // or a PrismaClient, TypeORM DataSource, Sequelize, MikroORM
 * ```
 * @throws TypeError when `db` is none of the clients above
 */
export function mysqlCheck(db: MysqlQueryable | SqlClient, options: MysqlCheckOptions = {}): HealthCheck {
  const run = sqlRunner(db, 'mysqlCheck');
  if (!run) {
    throw new TypeError('mysqlCheck needs a mysql2 pool or connection, knex, Prisma, TypeORM, Sequelize or MikroORM');
  }
  const statement = options.query ?? 'SELECT 1';
  return makeCheck('mysql', options, () => run(statement));
}
