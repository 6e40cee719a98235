import { describe, expect, it } from 'vitest';
import { errorType } from '../src/data/db-spans.js';
import { sanitizeSql, summarizeSql } from '../src/data/sql.js';

describe('sanitizeSql', () => {
  it.each([
    ["SELECT * FROM users WHERE name = 'alice' AND id = 42", 'SELECT * FROM users WHERE name = ? AND id = ?'],
    ["SELECT 'it''s', -3.5e10, .5, 0xFF, 1e-3", 'SELECT ?, -?, ?, ?, ?'],
    ["INSERT INTO t (a, b) VALUES (E'x\\'y', B'0101')", 'INSERT INTO t (a, b) VALUES (?, ?)'],
    ['SELECT $$secret body$$, $fn$ also $ secret $fn$, $1, $23', 'SELECT ?, ?, $1, $23'],
    ['SELECT t1.col2, "Table 9"."x""y" FROM t1', 'SELECT t1.col2, "Table 9"."x""y" FROM t1'],
    [
      "SELECT a -- the 'secret' comment\nFROM t /* 1234 */ WHERE b IN (1, 2, 3)",
      'SELECT a FROM t WHERE b IN (?, ?, ?)',
    ],
    ['UPDATE t SET flag = TRUE, note = NULL WHERE id = $1', 'UPDATE t SET flag = TRUE, note = NULL WHERE id = $1'],
    ["SELECT 'unterminated", 'SELECT ?'],
    ['  SELECT\n\t1  ', 'SELECT ?'],
  ])('postgresql: %s', (input, expected) => {
    expect(sanitizeSql(input)).toBe(expected);
    expect(sanitizeSql(expected), 'idempotent').toBe(expected);
  });

  it.each([
    [
      "SELECT * FROM `orders` WHERE sku = \"abc\" AND note = 'it\\'s'",
      'SELECT * FROM `orders` WHERE sku = ? AND note = ?',
    ],
    ['SELECT * FROM t WHERE a = ? # trailing 99', 'SELECT * FROM t WHERE a = ?'],
    ["INSERT INTO t VALUES (X'0A', 12.5)", 'INSERT INTO t VALUES (?, ?)'],
  ])('mysql: %s', (input, expected) => {
    expect(sanitizeSql(input, 'mysql')).toBe(expected);
  });

  it('never lets a literal through, whatever it contains', () => {
    const secrets = ["'p@ss -- word'", "'a''b /* c */'", '$q$ x $$ y $q$', '123456789', "E'\\x41'"];
    for (const secret of secrets) {
      const out = sanitizeSql(`SELECT * FROM t WHERE v = ${secret} AND w = 1`);
      expect(out, secret).toBe('SELECT * FROM t WHERE v = ? AND w = ?');
    }
  });
});

describe('summarizeSql', () => {
  it.each([
    ['SELECT id FROM users WHERE id = $1', 'SELECT', ['users'], 'SELECT users'],
    ['select * from public.users u join orders o on o.user_id = u.id', 'SELECT', ['public.users', 'orders'], undefined],
    ['SELECT * FROM a x, b AS y, c WHERE x.id = y.id', 'SELECT', ['a', 'b', 'c'], 'SELECT a b c'],
    ['INSERT INTO "Orders" (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET id = 2', 'INSERT', ['Orders'], undefined],
    ['UPDATE users SET name = $1', 'UPDATE', ['users'], undefined],
    ['DELETE FROM sessions WHERE expires < now()', 'DELETE', ['sessions'], undefined],
    ['WITH recent AS (SELECT * FROM orders) SELECT count(*) FROM recent', 'SELECT', ['orders', 'recent'], undefined],
    ['SELECT EXTRACT(YEAR FROM created_at), TRIM(BOTH FROM name) FROM users', 'SELECT', ['users'], undefined],
    ['SELECT * FROM (SELECT * FROM inner_t) sub', 'SELECT', ['inner_t'], undefined],
    ['CREATE TABLE IF NOT EXISTS items (id int)', 'CREATE', ['items'], 'CREATE items'],
    ['SELECT 1', 'SELECT', [], 'SELECT'],
    ['SELECT NOW() FROM DUAL', 'SELECT', [], 'SELECT'],
    ['BEGIN', 'BEGIN', [], 'BEGIN'],
    ['SELECT * FROM `shop`.`items`', 'SELECT', ['shop.items'], undefined],
  ])('%s', (sql, operation, tables, summary) => {
    const result = summarizeSql(sql, sql.includes('`') ? 'mysql' : 'postgresql');
    expect(result.operation).toBe(operation);
    expect(result.tables).toEqual(tables);
    if (summary) expect(result.summary).toBe(summary);
  });

  it('reads no table out of a string literal', () => {
    expect(summarizeSql("SELECT 'x FROM secrets' FROM t").tables).toEqual(['t']);
  });
});

describe('errorType', () => {
  it('takes the SQLSTATE instrumentation-pg records, a driver code, or the error name', () => {
    expect(errorType("PostgreSQL error of type 'error' occurred (code: 42P01)")).toBe('42P01');
    expect(errorType("PostgreSQL error of type 'error' occurred (code: UNKNOWN)")).toBe('_OTHER');
    expect(errorType(Object.assign(new Error('x'), { code: 'ER_NO_SUCH_TABLE' }))).toBe('ER_NO_SUCH_TABLE');
    expect(errorType(new TypeError('x'))).toBe('TypeError');
    expect(errorType(Object.assign(new Error('x'), { code: 'has spaces in it' }))).toBe('Error');
    expect(errorType(42)).toBe('_OTHER');
  });
});
