/**
 * PostgreSQL through `pg`: a `Pool`, `Client` or `PoolClient` (anything with a promise `query`).
 * Nothing is imported from `pg`. Give the pool a `connectionTimeoutMillis`: without one, `pg` waits
 * for an unanswered connection forever (the check still fails at its timeout).
 */
import type { HealthCheck } from '../registry.js';
import { type CheckOptions, makeCheck } from './common.js';

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
 * ```
 */
export function postgresCheck(db: PgQueryable, options: PostgresCheckOptions = {}): HealthCheck {
  if (!db || typeof db.query !== 'function') throw new TypeError('postgresCheck needs a pg Pool or Client');
  const statement = options.query ?? 'SELECT 1';
  return makeCheck('postgres', options, async () => {
    await db.query(statement);
  });
}
