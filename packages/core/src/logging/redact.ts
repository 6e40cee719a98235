/**
 * Key-based redaction shared by everything in @obs that writes data out (the logger today, error
 * reports later). A value is replaced with {@link REDACTED} when its key matches one of the keys,
 * case-insensitively, at any depth: nested objects, arrays, header maps. Objects are copied only
 * along the paths where something was redacted; the caller's objects are never mutated.
 *
 * pino's own `redact` option needs exact paths and is case-sensitive, which cannot express "an
 * `Authorization` header in any letter case, at any depth", hence this walker.
 */

/** The replacement value. */
export const REDACTED = '[Redacted]';

/** Keys redacted by default. Extend with `OBS_REDACT_KEYS` or the `redactKeys` option. */
export const DEFAULT_REDACT_KEYS: readonly string[] = [
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
];

const MAX_DEPTH = 16;

/** A function that returns a redacted copy of a value (or the value itself when nothing matched). */
export type Redactor = (value: unknown) => unknown;

/**
 * Build a redactor for the default keys plus `extraKeys`.
 * @param extraKeys more keys to redact, any letter case
 */
export function createRedactor(extraKeys: readonly string[] = []): Redactor {
  const keys = new Set([...DEFAULT_REDACT_KEYS, ...extraKeys].map((k) => k.toLowerCase()));

  function walk(value: unknown, depth: number, seen: Set<object>): unknown {
    if (value === null || typeof value !== 'object') return value;
    // Fail closed: returning the original here would leak any secret below this point.
    if (seen.has(value)) return '[Circular]';
    if (depth > MAX_DEPTH) return '[Truncated]';
    // Leave special objects alone; Errors are handled by the logger's error serializer.
    if (value instanceof Error || value instanceof Date || ArrayBuffer.isView(value) || value instanceof Map) {
      return value;
    }
    seen.add(value);
    try {
      if (Array.isArray(value)) {
        let copy: unknown[] | undefined;
        for (let i = 0; i < value.length; i++) {
          const inner = value[i];
          const next = walk(inner, depth + 1, seen);
          if (next !== inner) {
            copy ??= value.slice();
            copy[i] = next;
          }
        }
        return copy ?? value;
      }
      let copy: Record<string, unknown> | undefined;
      const record = value as Record<string, unknown>;
      for (const key in record) {
        if (!Object.hasOwn(record, key)) continue;
        const inner = record[key];
        let next: unknown;
        if (keys.has(key.toLowerCase())) {
          next = inner === undefined || inner === null ? inner : REDACTED;
        } else {
          next = walk(inner, depth + 1, seen);
        }
        if (next !== inner) {
          copy ??= { ...record };
          copy[key] = next;
        }
      }
      return copy ?? value;
    } finally {
      seen.delete(value);
    }
  }

  return (value) => walk(value, 0, new Set());
}
