/** Secrets inside strings never reach a log line (issue 15, item 13), through the real pino logger. */
import { describe, expect, it } from 'vitest';
import { REDACTED } from '../src/logging/redact.js';
import { memoryLogger } from './helpers.js';

const SECRET = 'hunter2-s3cr3t';
const JWT =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';

describe('logger: secrets inside strings', () => {
  it('redacts an interpolated message, in a template literal or through printf arguments', () => {
    const { logger, lines, raw } = memoryLogger();
    const body = { email: 'a@b.c', password: SECRET };
    logger.warn(`Login failed for ${JSON.stringify(body)}`);
    logger.warn('Login failed for %s', JSON.stringify(body));
    logger.warn('Login failed for %j', body);
    logger.warn({ user: 'ann' }, 'Login failed for %o', body);
    expect(raw.join('')).not.toContain(SECRET);
    expect(lines[0]?.msg).toBe(`Login failed for {"email":"a@b.c","password":"${REDACTED}"}`);
    expect(lines[2]?.msg).toBe(`Login failed for {"email":"a@b.c","password":"${REDACTED}"}`);
  });

  it('redacts error messages and stacks, also of an Error logged without a message', () => {
    const { logger, lines, raw } = memoryLogger();
    const err = new Error(`connect ECONNREFUSED postgres://app:${SECRET}@db:5432/app`);
    logger.error(err);
    logger.error({ err }, 'query failed');
    logger.error({ error: new Error(`token=${SECRET}`) }, 'failed');
    expect(raw.join('')).not.toContain(SECRET);
    expect(lines[0]?.msg).toBe(`connect ECONNREFUSED postgres://app:${REDACTED}@db:5432/app`);
    const logged = lines[1]?.err as { message: string; stack: string };
    expect(logged.message).toBe(`connect ECONNREFUSED postgres://app:${REDACTED}@db:5432/app`);
    expect(logged.stack).toContain(`Error: connect ECONNREFUSED postgres://app:${REDACTED}@db:5432/app`);
  });

  it('redacts string fields: ORM query logs, bearer tokens and JWTs in free text, child bindings', () => {
    const { logger, lines, raw } = memoryLogger();
    logger.debug({ sql: `UPDATE users SET password = '${SECRET}' WHERE id = 1` }, 'query');
    logger.info({ upstream: { said: `401 for Authorization: Bearer ${SECRET}` } }, 'denied');
    logger.child({ session: JWT }).info('child line');
    logger.info(`forwarding ${JWT}`);
    expect(raw.join('')).not.toContain(SECRET);
    expect(raw.join('')).not.toContain(JWT);
    expect(lines[0]?.sql).toBe(`UPDATE users SET password = '${REDACTED}' WHERE id = 1`);
    expect(lines[2]?.session).toBe(REDACTED);
    expect(lines[3]?.msg).toBe(`forwarding ${REDACTED}`);
  });

  it('leaves clean lines as they are', () => {
    const { logger, lines } = memoryLogger();
    logger.info({ route: '/users/:id', at: 'login.js:10:5' }, 'request completed in %d ms', 12);
    expect(lines[0]).toMatchObject({ msg: 'request completed in 12 ms', route: '/users/:id', at: 'login.js:10:5' });
  });

  it('keeps strings as written with OBS_REDACT_STRINGS=false (keys are still redacted)', () => {
    const { logger, lines } = memoryLogger({ redactStrings: false });
    logger.warn({ password: 'x', note: `password=${SECRET}` }, `token=${SECRET}`);
    expect(lines[0]).toMatchObject({ password: REDACTED, note: `password=${SECRET}`, msg: `token=${SECRET}` });
  });
});
