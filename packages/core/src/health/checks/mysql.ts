/**
 * MySQL and MariaDB through `mysql2`: a pool or connection of the promise API (`mysql2/promise`) or
 * of the callback API. Nothing is imported from `mysql2`.
 */
import type { EventEmitter } from 'node:events';
import type { HealthCheck } from '../registry.js';
import { type CheckOptions, isThenable, makeCheck } from './common.js';

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
 * ```
 */
export function mysqlCheck(db: MysqlQueryable, options: MysqlCheckOptions = {}): HealthCheck {
  if (!db || typeof db.query !== 'function') throw new TypeError('mysqlCheck needs a mysql2 pool or connection');
  const statement = options.query ?? 'SELECT 1';
  return makeCheck('mysql', options, async () => {
    const result = db.query(statement);
    // The callback API without a callback returns the query, an EventEmitter (whose `then` throws).
    const query = result as EventEmitter | undefined;
    if (query && typeof query.once === 'function') {
      await new Promise<void>((resolve, reject) => {
        query.once('error', reject);
        query.once('end', () => resolve());
      });
      return;
    }
    if (!isThenable(result)) throw new TypeError('mysqlCheck: query() returned neither a promise nor a query');
    await result;
  });
}
