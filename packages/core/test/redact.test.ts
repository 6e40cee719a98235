import { describe, expect, it } from 'vitest';
import { createRedactor, DEFAULT_REDACT_KEYS, REDACTED } from '../src/logging/redact.js';

const redact = createRedactor();

describe('createRedactor', () => {
  for (const key of DEFAULT_REDACT_KEYS) {
    it(`redacts the default key ${JSON.stringify(key)} and keeps its neighbours`, () => {
      expect(redact({ [key]: 'secret-value', keep: 'visible' })).toEqual({ [key]: REDACTED, keep: 'visible' });
    });
  }

  it('matches keys case-insensitively', () => {
    const out = redact({ Authorization: 'Bearer x', COOKIE: 'a=b', 'Set-Cookie': ['s=1'], 'X-Api-Key': 'k', Other: 1 });
    expect(out).toEqual({
      Authorization: REDACTED,
      COOKIE: REDACTED,
      'Set-Cookie': REDACTED,
      'X-Api-Key': REDACTED,
      Other: 1,
    });
  });

  it('redacts at any depth, inside arrays of objects and in header maps', () => {
    const input = {
      req: {
        method: 'POST',
        headers: { host: 'api', authorization: 'Bearer abc', 'x-api-key': 'k1', cookie: 'sid=1' },
        body: {
          users: [
            { name: 'ann', password: 'p1' },
            { name: 'bob', creds: { client_secret: 's' } },
          ],
        },
      },
      matrix: [[{ token: 't' }]],
      deep: { a: { b: { c: { d: { e: { refresh_token: 'r' } } } } } },
    };
    expect(redact(input)).toEqual({
      req: {
        method: 'POST',
        headers: { host: 'api', authorization: REDACTED, 'x-api-key': REDACTED, cookie: REDACTED },
        body: {
          users: [
            { name: 'ann', password: REDACTED },
            { name: 'bob', creds: { client_secret: REDACTED } },
          ],
        },
      },
      matrix: [[{ token: REDACTED }]],
      deep: { a: { b: { c: { d: { e: { refresh_token: REDACTED } } } } } },
    });
  });

  it('never lets a secret through because it is nested very deeply', () => {
    let deep: Record<string, unknown> = { password: 'deep-secret' };
    for (let i = 0; i < 40; i++) deep = { next: deep };
    const text = JSON.stringify(redact(deep));
    expect(text).not.toContain('deep-secret');
    expect(text).toContain('[Truncated]');
  });

  it('replaces an object-valued secret entirely', () => {
    expect(redact({ secret: { nested: 'x' } })).toEqual({ secret: REDACTED });
  });

  it('redacts extra keys, whatever their case, on top of the defaults', () => {
    const custom = createRedactor(['Employee_ID', 'badge']);
    expect(custom({ employee_id: '1', BADGE: '2', password: '3', name: 'n' })).toEqual({
      employee_id: REDACTED,
      BADGE: REDACTED,
      password: REDACTED,
      name: 'n',
    });
    // the default redactor does not know the extra keys
    expect(redact({ employee_id: '1' })).toEqual({ employee_id: '1' });
  });

  it('never mutates its input', () => {
    const input = { user: { password: 'p', name: 'n' }, list: [{ token: 't' }] };
    const snapshot = structuredClone(input);
    const out = redact(input) as typeof input;
    expect(input).toEqual(snapshot);
    expect(out).not.toBe(input);
    expect(out.user).not.toBe(input.user);
    expect(out.list).not.toBe(input.list);
  });

  it('returns unchanged objects by identity, and copies only along redacted paths', () => {
    const clean = { a: 1, b: { c: [1, 2, { d: 'x' }] } };
    expect(redact(clean)).toBe(clean);
    const untouched = { big: 'branch' };
    const mixed = { untouched, hit: { password: 'p' } };
    const out = redact(mixed) as typeof mixed;
    expect(out).not.toBe(mixed);
    expect(out.untouched).toBe(untouched);
  });

  it('passes primitives, null and undefined through', () => {
    for (const v of [null, undefined, 0, 'text', true, 10n]) expect(redact(v)).toBe(v);
  });

  it('leaves null and undefined secret values as they are', () => {
    const input = { password: null, token: undefined, secret: '' };
    expect(redact(input)).toEqual({ password: null, token: undefined, secret: REDACTED });
  });

  it('does not hang on cycles and does not leak a secret through one', () => {
    const a: Record<string, unknown> = { name: 'a', password: 'leak-me' };
    a.self = a;
    const b: Record<string, unknown> = { token: 'leak-too' };
    const c: Record<string, unknown> = { b };
    b.c = c;
    const list: unknown[] = [{ secret: 's' }];
    list.push(list);
    const out = redact({ a, c, list }) as Record<string, unknown>;
    expect(JSON.stringify(out, safeReplacer())).not.toMatch(/leak-me|leak-too|"s"/);
    expect((out.a as Record<string, unknown>).password).toBe(REDACTED);
    expect((out.a as Record<string, unknown>).self).toBe('[Circular]');
    expect(a.password).toBe('leak-me');
  });

  it('leaves Dates, Maps and typed arrays alone', () => {
    const date = new Date(0);
    const map = new Map([['password', 'p']]);
    const bytes = new Uint8Array([1, 2]);
    const input = { date, map, bytes };
    expect(redact(input)).toBe(input);
  });

  it('serialises Errors anywhere and redacts what they carry, keeping the stack', () => {
    const inner = Object.assign(new Error('upstream'), { config: { headers: { Authorization: 'Bearer s1' } } });
    const out = redact({ details: { error: inner }, list: [inner] }) as {
      details: { error: { message: string; stack: string; config: { headers: Record<string, string> } } };
      list: { config: { headers: Record<string, string> } }[];
    };
    expect(out.details.error.message).toBe('upstream');
    expect(out.details.error.stack).toContain('Error: upstream');
    expect(out.details.error.config.headers.Authorization).toBe(REDACTED);
    expect(out.list[0]?.config.headers.Authorization).toBe(REDACTED);
  });

  it('redacts what toJSON would write', () => {
    class Creds {
      toJSON() {
        return { user: 'u', password: 'p' };
      }
    }
    expect(redact({ creds: new Creds() })).toEqual({ creds: { user: 'u', password: REDACTED } });
  });

  it('matches keys whatever their case, separators and compound form', () => {
    const input = {
      accessToken: 'a',
      clientSecret: 'b',
      db_password: 'c',
      'x-auth-token': 'd',
      privateKey: 'e',
      'Password ': 'f',
      X_API_KEY: 'g',
      tokenizer: 'keep',
      secretary: 'keep',
      passwordPolicy: 'keep',
    };
    expect(redact(input)).toEqual({
      accessToken: REDACTED,
      clientSecret: REDACTED,
      db_password: REDACTED,
      'x-auth-token': REDACTED,
      privateKey: REDACTED,
      'Password ': REDACTED,
      X_API_KEY: REDACTED,
      tokenizer: 'keep',
      secretary: 'keep',
      passwordPolicy: 'keep',
    });
  });
});

/** JSON.stringify replacer that renders repeated ancestors as "[Circular]" (as pino does). */
function safeReplacer() {
  const ancestors: unknown[] = [];
  return function (this: unknown, _key: string, value: unknown) {
    if (typeof value !== 'object' || value === null) return value;
    while (ancestors.length > 0 && ancestors.at(-1) !== this) ancestors.pop();
    if (ancestors.includes(value)) return '[Circular]';
    ancestors.push(value);
    return value;
  };
}

describe('redaction edges (from the mutants StrykerJS found surviving, docs/testing.md)', () => {
  it('redacts each default key, written out here so that dropping one from the list fails', () => {
    for (const key of [
      'password',
      'password_hash',
      'passwd',
      'token',
      'access_token',
      'refresh_token',
      'id_token',
      'secret',
      'client_secret',
      'api_key',
      'apikey',
      'authorization',
      'proxy-authorization',
      'cookie',
      'set-cookie',
      'x-api-key',
      'sig',
      'awsaccesskeyid',
      'card_number',
      'credit_card',
      'cvv',
      'cvv2',
      'cvc',
      'pin',
      'iban',
      'account_number',
      'ssn',
      'social_security_number',
      'national_id',
      'tax_id',
      'passport_number',
    ]) {
      expect(createRedactor()({ [key]: 'v' }), key).toEqual({ [key]: REDACTED });
    }
  });

  it('walks the keys of an object whose toJSON() returns the object itself (what JSON.stringify writes)', () => {
    const user = {
      name: 'ada',
      password: 'hunter2',
      toJSON: function toJSON(this: unknown) {
        return this;
      },
    };
    const out = createRedactor()({ user }) as { user: Record<string, unknown> };
    expect(JSON.parse(JSON.stringify(out))).toEqual({ user: { name: 'ada', password: REDACTED } });
    expect(user.password).toBe('hunter2');
  });

  it('writes [Unserializable] for a value whose toJSON() throws', () => {
    const broken = {
      toJSON: () => {
        throw new Error('no');
      },
    };
    expect(createRedactor()({ broken, ok: 1 })).toEqual({ broken: '[Unserializable]', ok: 1 });
  });

  it('returns the value itself when only an inherited key is sensitive (JSON.stringify skips it)', () => {
    const value = Object.create({ token: 'inherited' }) as Record<string, unknown>;
    value.name = 'ada';
    expect(createRedactor()(value)).toBe(value);
  });

  const nest = (levels: number, wrap: (inner: unknown) => unknown): unknown => {
    let value: unknown = { password: 'deep-secret' };
    for (let i = 0; i < levels; i++) value = wrap(value);
    return value;
  };

  it('walks 16 levels below the top (objects, arrays; toJSON counts as one more) and truncates the 17th', () => {
    for (const [levels, wrap] of [
      [16, (inner: unknown) => ({ a: inner })],
      [16, (inner: unknown) => [inner]],
      [8, (inner: unknown) => ({ toJSON: () => ({ a: inner }) })],
    ] as const) {
      const kept = JSON.stringify(redact(nest(levels, wrap)));
      expect(kept).toContain(REDACTED);
      expect(kept).not.toContain('[Truncated]');
      const cut = JSON.stringify(redact(nest(levels + 1, wrap)));
      expect(cut).toContain('[Truncated]');
      expect(cut).not.toContain('deep-secret');
    }
  });
});
