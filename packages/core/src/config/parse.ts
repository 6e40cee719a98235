/**
 * Parsers for the value shapes the OpenTelemetry environment-variable specification uses
 * (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/#parsing-empty-value).
 * Each parser takes the raw value (a string from the environment or a typed value from options), the
 * name to blame in a warning, and a fallback. It never throws: a bad value costs one warning and the
 * fallback, and an empty value counts as unset, as the specification requires.
 */
import { warn } from '../diag.js';

/** A raw setting: a string from the environment or a typed value from options. */
export type Raw = unknown;

/** The longest delay a Node timer supports, in milliseconds. */
export const MAX_TIMER_MS = 2_147_483_647;

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
  const value = typeof raw === 'number' ? raw : Number(String(raw).trim());
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
  const value = typeof raw === 'number' ? raw : Number(String(raw).trim());
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
 * valid, the fallback is used (a typo must not silently turn a signal off).
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
        (fallsBack ? `using ${fallback.length > 0 ? fallback.join(',') : 'none'}` : 'ignoring it'),
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

/**
 * `key1=value1,key2=value2` as used by `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_EXPORTER_OTLP_HEADERS`
 * (W3C Baggage octets; values percent-encoded). Spaces around keys and values and empty members (a
 * trailing comma) are tolerated. A malformed member is skipped with a warning naming it; every valid
 * member is kept. A value whose percent-encoding is broken is kept verbatim with a warning rather
 * than dropped. Also accepts a plain object from options.
 */
export function parseKeyValueList(raw: Raw, name: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (isUnset(raw)) return out;
  if (typeof raw === 'object' && !Array.isArray(raw)) {
    for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
      if (v === undefined || v === null) continue;
      out[k] = String(v);
    }
    return out;
  }
  for (const member of String(raw).split(',')) {
    if (member.trim() === '') continue;
    const eq = member.indexOf('=');
    if (eq <= 0) {
      warn(`${name} has a malformed entry ${JSON.stringify(member.trim())} (expected key=value); skipping it`);
      continue;
    }
    const rawKey = member.slice(0, eq).trim();
    const rawValue = member.slice(eq + 1).trim();
    const key = decodeComponent(rawKey) ?? rawKey;
    if (key === '') {
      warn(`${name} has an entry with an empty key; skipping it`);
      continue;
    }
    let value = decodeComponent(rawValue);
    if (value === undefined) {
      warn(`${name} entry ${JSON.stringify(key)} has invalid percent-encoding; keeping the value as written`);
      value = rawValue;
    }
    out[key] = value;
  }
  return out;
}

/** An absolute http(s) URL, or the fallback. */
export function parseUrl(raw: Raw, name: string, fallback: string | undefined): string | undefined {
  if (isUnset(raw)) return fallback;
  const text = String(raw).trim();
  try {
    const url = new URL(text);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme');
    return text;
  } catch {
    warn(`${name}=${JSON.stringify(raw)} is not an http(s) URL; using ${fallback ?? 'the default'}`);
    return fallback;
  }
}

/** A TCP port `min`..65535 (default 0..65535). */
export function parsePort(raw: Raw, name: string, fallback: number | undefined, min = 0): number | undefined {
  if (isUnset(raw)) return fallback;
  const value = typeof raw === 'number' ? raw : Number(String(raw).trim());
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
