/**
 * Parsers for the value shapes the OpenTelemetry environment-variable specification uses
 * (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/#parsing-empty-value).
 * Each parser takes the raw value (a string from the environment or a typed value from options), the
 * name to blame in a warning, and a fallback. It never throws: a bad value costs one warning and the
 * fallback, and an empty value counts as unset, as the specification requires.
 */
import { validateHeaderName, validateHeaderValue } from 'node:http';
import { warn } from '../diag.js';

/** A raw setting: a string from the environment or a typed value from options. */
export type Raw = unknown;

/** The longest delay a Node timer supports, in milliseconds. */
export const MAX_TIMER_MS = 2_147_483_647;

/** Digits only: `0x10`, `0b1`, `1e3`, `+5` and `1.0` are not integers here (Number() would accept them). */
const DECIMAL_INT = /^\d+$/;
/** A decimal number (`0.25`, `.5`, `1`, `1e-2`), never hexadecimal, binary or octal. */
export const DECIMAL_NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A number from options as is; a string only when it is written in decimal, else NaN. */
export function toNumber(raw: Raw, pattern: RegExp): number {
  if (typeof raw === 'number') return raw;
  const text = String(raw).trim();
  return pattern.test(text) ? Number(text) : Number.NaN;
}

/** Unset: undefined, null, or a blank string. */
export function isUnset(raw: Raw): boolean {
  return raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === '');
}

/** `true`/`false`, case-insensitive (spec: "Boolean value"). */
export function parseBoolean(raw: Raw, name: string, fallback: boolean): boolean {
  if (isUnset(raw)) return fallback;
  if (typeof raw === 'boolean') return raw;
  const text = String(raw).trim().toLowerCase();
  if (text === 'true') return true;
  if (text === 'false') return false;
  warn(`${name}=${JSON.stringify(raw)} is not true or false; using ${fallback}`);
  return fallback;
}

/** A non-negative integer (durations in milliseconds, sizes, counts). */
export function parseNonNegativeInt(
  raw: Raw,
  name: string,
  fallback: number,
  opts: { min?: number; max?: number; fallbackLabel?: string } = {},
): number {
  if (isUnset(raw)) return fallback;
  const min = opts.min ?? 0;
  // Node timers cannot wait longer than 2^31-1 ms; a larger value would silently become 1 ms.
  const max = opts.max ?? MAX_TIMER_MS;
  const value = toNumber(raw, DECIMAL_INT);
  if (!Number.isFinite(value) || !Number.isInteger(value) || value < min || value > max) {
    warn(
      `${name}=${JSON.stringify(raw)} is not an integer from ${min} to ${max}; using ${opts.fallbackLabel ?? fallback}`,
    );
    return fallback;
  }
  return value;
}

/** A number in [min, max] (sampler ratios). */
export function parseNumberInRange(raw: Raw, name: string, fallback: number, min: number, max: number): number {
  if (isUnset(raw)) return fallback;
  const value = toNumber(raw, DECIMAL_NUMBER);
  if (!Number.isFinite(value) || value < min || value > max) {
    warn(`${name}=${JSON.stringify(raw)} is not a number between ${min} and ${max}; using ${fallback}`);
    return fallback;
  }
  return value;
}

/** One of a fixed set of lowercase words. */
export function parseEnum<T extends string>(raw: Raw, name: string, allowed: readonly T[], fallback: T): T {
  if (isUnset(raw)) return fallback;
  const text = String(raw).trim().toLowerCase();
  if ((allowed as readonly string[]).includes(text)) return text as T;
  warn(`${name}=${JSON.stringify(raw)} is not one of ${allowed.join(', ')}; using ${fallback}`);
  return fallback;
}

/**
 * A comma-separated list of words (or an array from options), trimmed, lowercased, de-duplicated.
 * Words outside `allowed` are dropped with a warning; the valid ones are kept. When no word is
 * valid, or the variable holds only separators (`,`, ` , `), the fallback is used with a warning:
 * a typo must not silently turn a signal off. An empty array from options is a choice and is kept.
 */
export function parseList<T extends string>(
  raw: Raw,
  name: string,
  allowed: readonly T[] | undefined,
  fallback: readonly T[],
): T[] {
  if (isUnset(raw)) return [...fallback];
  const items = (Array.isArray(raw) ? raw.map(String) : String(raw).split(','))
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');
  const usingFallback = `using ${fallback.length > 0 ? fallback.join(',') : 'none'}`;
  if (items.length === 0 && !Array.isArray(raw)) {
    warn(`${name}=${JSON.stringify(raw)} lists no entry, only separators; ${usingFallback}`);
    return [...fallback];
  }
  const out: T[] = [];
  const unknown: string[] = [];
  for (const item of items) {
    if (allowed && !(allowed as readonly string[]).includes(item)) unknown.push(JSON.stringify(item));
    else if (!out.includes(item as T)) out.push(item as T);
  }
  if (unknown.length > 0 && allowed) {
    const fallsBack = out.length === 0;
    warn(
      `${name} has unknown ${unknown.length > 1 ? 'entries' : 'entry'} ${unknown.join(', ')} (known: ${allowed.join(', ')}); ` +
        (fallsBack ? usingFallback : 'ignoring it'),
    );
    if (fallsBack) return [...fallback];
  }
  return out;
}
function decodeComponent(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/** What {@link parseKeyValueList} reads. */
export interface KeyValueListOptions {
  /**
   * The members are HTTP request headers (`OTEL_EXPORTER_OTLP_*HEADERS`): a name that is not an HTTP
   * token or a value Node would refuse to send (control characters such as CR LF, characters outside
   * Latin-1) is skipped with a warning, since a single such header makes every export fail.
   */
  headers?: boolean;
}

/** A key as a warning may show it: quoted when it is an HTTP token (no spaces, quotes, controls), else by position. */
function entryLabel(position: number, key: string): string {
  try {
    validateHeaderName(key);
    return `entry ${JSON.stringify(key)}`;
  } catch {
    return `entry ${position}`;
  }
}

/** Why Node's http client would refuse this header, or undefined when it would send it. */
function headerProblem(name: string, value: string): string | undefined {
  try {
    validateHeaderName(name);
  } catch {
    return 'has a name that is not a valid HTTP header name';
  }
  try {
    validateHeaderValue(name, value);
  } catch {
    return 'has a value Node cannot send in an HTTP header (control characters or characters outside Latin-1)';
  }
  return undefined;
}

/**
 * `key1=value1,key2=value2` as used by `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_EXPORTER_OTLP_HEADERS`
 * (W3C Baggage octets; keys and values percent-encoded). Spaces around keys and values and empty
 * members (a trailing comma) are tolerated. A malformed member is skipped with a warning; every
 * valid member is kept. A key or value whose percent-encoding is broken is kept as written, with a
 * warning. Also accepts a plain object from options.
 *
 * Warnings name the variable and the member's key when it is an HTTP token, else its position
 * (`entry 2`), and never a value: these variables carry credentials (`Authorization=Bearer ...`),
 * and a malformed member may be a secret pasted whole.
 */
export function parseKeyValueList(raw: Raw, name: string, options: KeyValueListOptions = {}): Record<string, string> {
  const out: Record<string, string> = {};
  if (isUnset(raw)) return out;
  const accept = (position: number, key: string, value: string) => {
    const problem = options.headers ? headerProblem(key, value) : undefined;
    if (problem === undefined) out[key] = value;
    else warn(`${name} ${entryLabel(position, key)} ${problem}; skipping it`);
  };
  if (typeof raw === 'object' && !Array.isArray(raw)) {
    let position = 0;
    for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
      position++;
      if (v === undefined || v === null) continue;
      accept(position, k, String(v));
    }
    return out;
  }
  let position = 0;
  for (const member of String(raw).split(',')) {
    if (member.trim() === '') continue;
    position++;
    const eq = member.indexOf('=');
    if (eq <= 0) {
      warn(`${name} entry ${position} is not key=value; skipping it`);
      continue;
    }
    const rawKey = member.slice(0, eq).trim();
    const rawValue = member.slice(eq + 1).trim();
    if (rawKey === '') {
      warn(`${name} entry ${position} has an empty key; skipping it`);
      continue;
    }
    let key = decodeComponent(rawKey);
    if (key === undefined) {
      warn(
        `${name} ${entryLabel(position, rawKey)} has invalid percent-encoding in its key; keeping the key as written`,
      );
      key = rawKey;
    }
    let value = decodeComponent(rawValue);
    if (value === undefined) {
      warn(
        `${name} ${entryLabel(position, key)} has invalid percent-encoding in its value; keeping the value as written`,
      );
      value = rawValue;
    }
    accept(position, key, value);
  }
  return out;
}

/**
 * An absolute http(s) URL, or the fallback. The warning for a bad value does not print it: an
 * endpoint may carry credentials (`https://user:password@host`, `?token=`).
 */
export function parseUrl(raw: Raw, name: string, fallback: string | undefined): string | undefined {
  if (isUnset(raw)) return fallback;
  const text = String(raw).trim();
  try {
    const url = new URL(text);
    if (url.protocol === 'http:' || url.protocol === 'https:') return text;
  } catch {
    // not a URL at all
  }
  warn(`${name} is not an absolute http(s) URL; using ${fallback ?? 'the default'}`);
  return fallback;
}

/** A TCP port `min`..65535 (default 0..65535). */
export function parsePort(raw: Raw, name: string, fallback: number | undefined, min = 0): number | undefined {
  if (isUnset(raw)) return fallback;
  const value = toNumber(raw, DECIMAL_INT);
  if (!Number.isInteger(value) || value < min || value > 65535) {
    warn(`${name}=${JSON.stringify(raw)} is not a port number (${min}-65535); using ${fallback ?? 'none'}`);
    return fallback;
  }
  return value;
}

/** Trimmed non-empty string, or the fallback. */
export function parseString(raw: Raw, fallback: string | undefined): string | undefined {
  if (isUnset(raw)) return fallback;
  return String(raw).trim();
}
