/**
 * The value parsers behind every variable, at their edges: blanks, surrounding spaces, bounds
 * (inclusive), empty list entries, broken percent-encoding, and the exact warning a user reads for a
 * bad value. Written from the mutants StrykerJS found surviving in src/config/parse.ts (docs/testing.md).
 */
import { describe, expect, it } from 'vitest';
import {
  parseBoolean,
  parseEnum,
  parseKeyValueList,
  parseList,
  parseNonNegativeInt,
  parseNumberInRange,
  parsePort,
  parseString,
  parseUrl,
} from '../src/config/parse.js';
import { useDiagnostics } from './helpers.js';

const warnings = useDiagnostics();

describe('parseBoolean', () => {
  it('takes booleans, any case and spaces; null counts as unset', () => {
    expect(parseBoolean(false, 'B', true)).toBe(false);
    expect(parseBoolean(' TRUE ', 'B', false)).toBe(true);
    expect(parseBoolean(null, 'B', true)).toBe(true);
    expect(warnings).toEqual([]);
  });

  it('warns with the value and the fallback', () => {
    expect(parseBoolean('yes', 'B', false)).toBe(false);
    expect(warnings).toEqual(['@obs warn: B="yes" is not true or false; using false']);
  });
});

describe('parseNonNegativeInt', () => {
  it('accepts the bounds themselves', () => {
    expect(parseNonNegativeInt('10', 'N', 1, { max: 10 })).toBe(10);
    expect(parseNonNegativeInt(' 3 ', 'N', 1, { min: 3 })).toBe(3);
    expect(warnings).toEqual([]);
  });

  it('warns past a bound, naming the range and the fallback (or its label)', () => {
    expect(parseNonNegativeInt('11', 'N', 1, { max: 10 })).toBe(1);
    expect(parseNonNegativeInt('-1', 'N', 5, { fallbackLabel: 'the default' })).toBe(5);
    expect(warnings).toEqual([
      '@obs warn: N="11" is not an integer from 0 to 10; using 1',
      '@obs warn: N="-1" is not an integer from 0 to 2147483647; using the default',
    ]);
  });
});

describe('parseNumberInRange', () => {
  it('accepts the bounds, warns outside them', () => {
    expect(parseNumberInRange('1', 'R', 0.5, 0, 1)).toBe(1);
    expect(parseNumberInRange('0', 'R', 0.5, 0, 1)).toBe(0);
    expect(parseNumberInRange('1.5', 'R', 0.5, 0, 1)).toBe(0.5);
    expect(warnings).toEqual(['@obs warn: R="1.5" is not a number between 0 and 1; using 0.5']);
  });
});

describe('decimal numbers (OTEL_TRACES_SAMPLER_ARG, sample rates)', () => {
  it('reads every decimal form: a sign, a leading point, an exponent with or without its sign', () => {
    const read = (text: string) => parseNumberInRange(text, 'R', -1, -1e6, 1e6);
    expect(['10', '+0.5', '-2', '.25', '1.', '12.5', '1e3', '1E+2', '2.5e-1', '.5e1', '2e-10'].map(read)).toEqual([
      10, 0.5, -2, 0.25, 1, 12.5, 1000, 100, 0.25, 5, 2e-10,
    ]);
    expect(warnings).toEqual([]);
  });

  it('refuses what Number() would read but a decimal is not, and an exponent without digits', () => {
    const read = (text: string) => parseNumberInRange(text, 'R', -1, -1e6, 1e6);
    expect(['0x10', '0b1', 'Infinity', '1e', '1e+', '.', '+', '..5', '5 5'].map(read)).toEqual(Array(9).fill(-1));
    expect(warnings).toHaveLength(9);
  });
});

describe('parseEnum', () => {
  it('trims and lowercases; warns with the allowed words', () => {
    expect(parseEnum(' B3 ', 'E', ['b3', 'b3multi'], 'b3multi')).toBe('b3');
    expect(parseEnum('zipkin', 'E', ['b3', 'b3multi'], 'b3multi')).toBe('b3multi');
    expect(warnings).toEqual(['@obs warn: E="zipkin" is not one of b3, b3multi; using b3multi']);
  });
});

describe('parseList', () => {
  const allowed = ['a', 'b'] as const;

  it('trims, lowercases, drops empty entries and duplicates', () => {
    expect(parseList(' A ,, b ,a,', 'L', allowed, ['b'])).toEqual(['a', 'b']);
    expect(parseList(['B', 'a'], 'L', allowed, [])).toEqual(['b', 'a']);
    expect(parseList('x, ,y', 'L', undefined, [])).toEqual(['x', 'y']);
    expect(warnings).toEqual([]);
  });

  it('keeps the known entries and names the unknown ones', () => {
    expect(parseList('a,x', 'L', allowed, ['b'])).toEqual(['a']);
    expect(warnings).toEqual(['@obs warn: L has unknown entry "x" (known: a, b); ignoring it']);
  });

  it('falls back when no entry is known, naming the fallback or none', () => {
    expect(parseList('x,y', 'L', allowed, ['a', 'b'])).toEqual(['a', 'b']);
    expect(parseList('x', 'L', allowed, [])).toEqual([]);
    expect(warnings).toEqual([
      '@obs warn: L has unknown entries "x", "y" (known: a, b); using a,b',
      '@obs warn: L has unknown entry "x" (known: a, b); using none',
    ]);
  });
});

describe('parseKeyValueList', () => {
  it('trims keys and values, skips blank members, decodes percent-encoding', () => {
    expect(parseKeyValueList(' k = v%20w , ,n=1,', 'KV')).toEqual({ k: 'v w', n: '1' });
    expect(warnings).toEqual([]);
  });

  it('skips a member without "=" before a key, or with an empty key, warning with its position (never its text)', () => {
    expect(parseKeyValueList('=x, lone ,  =y,k=v', 'KV')).toEqual({ k: 'v' });
    expect(warnings).toEqual([
      '@obs warn: KV entry 1 is not key=value; skipping it',
      '@obs warn: KV entry 3 has an empty key; skipping it',
    ]);
  });

  it('names a bad header from options by its position, not its text (it may be a secret)', () => {
    const headers = { authorization: 'Bearer t', 'bad name': 'x', other: null, 'x-ok': 'y' };
    expect(parseKeyValueList(headers, 'H', { headers: true })).toEqual({ authorization: 'Bearer t', 'x-ok': 'y' });
    expect(warnings).toEqual(['@obs warn: H entry 2 has a name that is not a valid HTTP header name; skipping it']);
  });

  it('keeps a key or value whose percent-encoding is broken as written', () => {
    expect(parseKeyValueList('k%ZZ=v,a=%E0%A4%A', 'KV')).toEqual({ 'k%ZZ': 'v', a: '%E0%A4%A' });
    expect(warnings).toEqual([
      '@obs warn: KV entry "k%ZZ" has invalid percent-encoding in its key; keeping the key as written',
      '@obs warn: KV entry "a" has invalid percent-encoding in its value; keeping the value as written',
    ]);
  });

  it('takes an object from options, leaving out null and undefined values', () => {
    expect(parseKeyValueList({ a: 1, b: null, c: undefined, d: 'x' }, 'KV')).toEqual({ a: '1', d: 'x' });
  });
});

describe('parseUrl, parsePort, parseString', () => {
  it('trims a URL; warns for another scheme, naming the fallback or the default', () => {
    expect(parseUrl(' http://collector:4318 ', 'U', undefined)).toBe('http://collector:4318');
    expect(parseUrl('ftp://x', 'U', undefined)).toBeUndefined();
    expect(parseUrl('ftp://x', 'U', 'http://d')).toBe('http://d');
    expect(warnings).toEqual([
      '@obs warn: U is not an absolute http(s) URL; using the default',
      '@obs warn: U is not an absolute http(s) URL; using http://d',
    ]);
  });

  it('accepts port 65535, warns past it naming the fallback or none', () => {
    expect(parsePort(' 65535 ', 'P', undefined)).toBe(65535);
    expect(parsePort('65536', 'P', undefined)).toBeUndefined();
    expect(parsePort('0', 'P', 9464, 1)).toBe(9464);
    expect(warnings).toEqual([
      '@obs warn: P="65536" is not a port number (0-65535); using none',
      '@obs warn: P="0" is not a port number (1-65535); using 9464',
    ]);
  });

  it('trims strings; blank is unset', () => {
    expect(parseString(' x ', 'f')).toBe('x');
    expect(parseString('  ', 'f')).toBe('f');
  });
});
