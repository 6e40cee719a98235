/**
 * The users: from PostgreSQL when `DATABASE_URL` is set, else from memory. Either way, users 1..1000
 * exist (`User <id>`, `user<id>@example.com`).
 *
 * With PostgreSQL, the `users` table is created if missing and seeded at start-up, idempotently (in
 * a transaction holding an advisory lock, so replicas starting together do not collide). A database
 * that is down at start-up does not stop the service: the seeding is retried by the next read, and
 * readiness reports the outage meanwhile. Queries are parameterised: @obs records them as written,
 * `SELECT id, name, email FROM users WHERE id = $1`, a child span of the request.
 */
import { getObs, postgresCheck } from '@obs/core';

const USERS = 1000;

/** Users in memory (no `DATABASE_URL`). */
export function memoryDatabase() {
  return {
    async findUser(id) {
      return id >= 1 && id <= USERS ? { id: String(id), name: `User ${id}`, email: `user${id}@example.com` } : null;
    },
  };
}

/** Create the `users` table if missing and add the users 1..1000 that are not there yet. */
async function seed(pool) {
  const client = await pool.connect();
  let failure;
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
    failure = err;
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release(failure); // a connection that failed is discarded
  }
}

/** Users in PostgreSQL: a pool, its readiness check, the seeding, and `close()` for the shutdown. */
export async function connectDatabase(url) {
  const obs = getObs();
  const { default: pg } = await import('pg');
  // connectionTimeoutMillis: without it pg waits for an unanswered connection forever
  const pool = new pg.Pool({ connectionString: url, max: 5, connectionTimeoutMillis: 2000 });
  pool.on('error', (err) => obs.logger.warn({ err }, 'PostgreSQL connection lost'));
  obs.health.add(postgresCheck(pool));

  let seeded;
  const ensureSeeded = () => {
    seeded ??= obs
      .withSpan('seed_users', () => seed(pool))
      .catch((err) => {
        seeded = undefined; // the next read tries again
        throw err;
      });
    return seeded;
  };
  // Not awaited: a database that is down must not hold the start-up (reads wait for it instead).
  ensureSeeded().catch((err) => obs.logger.warn({ err }, 'Users table not ready'));

  return {
    async findUser(id) {
      await ensureSeeded();
      const { rows } = await pool.query('SELECT id, name, email FROM users WHERE id = $1', [id]);
      const row = rows[0];
      return row ? { id: String(row.id), name: row.name, email: row.email } : null;
    },
    close: () => pool.end(),
  };
}
