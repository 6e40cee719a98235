import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { getObs, postgresCheck } from '@obs/nestjs';
import type { Pool } from 'pg';

const USERS = 1000;

/** A user, as the API answers it. */
export interface User {
  id: string;
  name: string;
  email: string;
}

/** Create the `users` table if missing and add the users 1..1000 that are not there yet. */
async function seed(pool: Pool): Promise<void> {
  const client = await pool.connect();
  let failure: Error | undefined;
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', ['users seed']);
    await client.query(
      'CREATE TABLE IF NOT EXISTS users (id integer PRIMARY KEY, name text NOT NULL, email text NOT NULL)',
    );
    await client.query(
      `INSERT INTO users (id, name, email)
       SELECT i, 'User ' || i, 'user' || i || '@example.com' FROM generate_series(1, $1::integer) AS i
       ON CONFLICT (id) DO NOTHING`,
      [USERS],
    );
    await client.query('COMMIT');
  } catch (err) {
    failure = err as Error;
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release(failure); // a connection that failed is discarded
  }
}

/**
 * The users: from PostgreSQL when `DATABASE_URL` is set, else from memory. Either way, users 1..1000
 * exist (`User <id>`, `user<id>@example.com`).
 *
 * With PostgreSQL, the `users` table is created if missing and seeded at start-up, idempotently (in
 * a transaction holding an advisory lock, so replicas starting together do not collide). A database
 * that is down at start-up does not stop the service: the seeding is retried by the next read, and
 * readiness reports the outage meanwhile. Queries are parameterised: @obs records them as written,
 * `SELECT id, name, email FROM users WHERE id = $1`, a child span of the request. The pool is closed
 * by {@link Dependencies} at shutdown.
 */
@Injectable()
export class Database implements OnModuleInit {
  readonly #logger = new Logger(Database.name);
  #pool: Pool | undefined;
  #seeded: Promise<void> | undefined;

  async onModuleInit(): Promise<void> {
    const url = process.env.DATABASE_URL;
    if (!url) return;
    const obs = getObs();
    const { default: pg } = await import('pg');
    // connectionTimeoutMillis: without it pg waits for an unanswered connection forever
    const pool = new pg.Pool({ connectionString: url, max: 5, connectionTimeoutMillis: 2000 });
    pool.on('error', (err) => this.#logger.warn('PostgreSQL connection lost', { err }));
    obs.health.add(postgresCheck(pool));
    this.#pool = pool;
    // Not awaited: a database that is down must not hold the start-up (reads wait for it instead).
    this.#ensureSeeded(pool).catch((err: unknown) => this.#logger.warn('Users table not ready', { err }));
  }

  #ensureSeeded(pool: Pool): Promise<void> {
    this.#seeded ??= getObs()
      .withSpan('seed_users', () => seed(pool))
      .catch((err: unknown) => {
        this.#seeded = undefined; // the next read tries again
        throw err;
      });
    return this.#seeded;
  }

  /** The user with this id, or null. */
  async findUser(id: number): Promise<User | null> {
    const pool = this.#pool;
    if (!pool) {
      return id >= 1 && id <= USERS ? { id: String(id), name: `User ${id}`, email: `user${id}@example.com` } : null;
    }
    await this.#ensureSeeded(pool);
    const { rows } = await pool.query<{ id: number; name: string; email: string }>(
      'SELECT id, name, email FROM users WHERE id = $1',
      [id],
    );
    const row = rows[0];
    return row ? { id: String(row.id), name: row.name, email: row.email } : null;
  }

  /** Whether there is something to close. */
  get connected(): boolean {
    return this.#pool !== undefined;
  }

  async close(): Promise<void> {
    await this.#pool?.end();
  }
}
