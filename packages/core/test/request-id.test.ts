import { describe, expect, it } from 'vitest';
import { isWellFormedRequestId, requestIdFrom } from '../src/http/request-id.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('requestIdFrom', () => {
  const accepted = [
    'abc',
    '1',
    'f47ac10b-58cc-4372-a567-0e02b2c3d479',
    'Root=1-5759e988-bd862e3fe1be46a994272793',
    'req_01HZX.node-7:8080/a+b=c@d~e',
    'x'.repeat(128),
  ];
  for (const id of accepted) {
    it(`keeps the well-formed id ${JSON.stringify(id.length > 40 ? `${id.slice(0, 20)}…(${id.length})` : id)}`, () => {
      expect(isWellFormedRequestId(id)).toBe(true);
      expect(requestIdFrom(id)).toBe(id);
    });
  }

  const rejected: [string, string | string[] | undefined][] = [
    ['missing', undefined],
    ['empty', ''],
    ['too long (129 characters)', 'x'.repeat(129)],
    ['a space', 'abc def'],
    ['a leading space', ' abc'],
    ['a double quote', 'abc"def'],
    ['a single quote', "abc'def"],
    ['a newline (log forging)', 'abc\n{"level":"error"}'],
    ['a carriage return', 'abc\rdef'],
    ['a tab', 'abc\tdef'],
    ['a NUL', 'abc\u0000'],
    ['non-ASCII', 'abcé'],
    ['a comma (duplicate headers joined by Node)', 'abc, def'],
    ['angle brackets', '<script>'],
    ['an array of two values', ['abc', 'def']],
    ['an empty array', []],
    ['an array with a malformed value', ['a b']],
  ];
  for (const [label, header] of rejected) {
    it(`replaces a header with ${label} by a UUID v4`, () => {
      const id = requestIdFrom(header);
      expect(id).toMatch(UUID_V4);
      if (typeof header === 'string') expect(id).not.toBe(header);
    });
  }

  it('takes the value of a one-element array', () => {
    expect(requestIdFrom(['abc-123'])).toBe('abc-123');
  });

  it('generates a different id every time', () => {
    const ids = new Set(Array.from({ length: 50 }, () => requestIdFrom(undefined)));
    expect(ids.size).toBe(50);
  });

  it('rejects non-strings', () => {
    for (const v of [123, null, {}, ['abc']]) expect(isWellFormedRequestId(v)).toBe(false);
  });
});
