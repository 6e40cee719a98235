/**
 * Key-based redaction shared by everything in @obs that writes data out (the logger today, error
 * reports later). A value is replaced with {@link REDACTED} when its key matches, at any depth:
 * nested objects, arrays, header maps, Errors (serialised first) and objects with `toJSON`.
 *
 * Keys are compared normalised: lower case, with everything but letters and digits removed, so
 * `Authorization`, `x-api-key`, `X_API_KEY` and `'Password '` all match. A key also matches when it
 * ends with one of the sensitive stems (`password`, `secret`, `token`, `apikey`, `privatekey`,
 * `authorization`, `cookie`, ...): `accessToken`, `db_password`, `clientSecret`, `x-auth-token`.
 * Objects are copied only along the paths where something was redacted; the caller's objects are
 * never mutated. Strings are searched for secret shapes only when a `redactString` function is given
 * (./redact-text.ts; the logger passes one unless `OBS_REDACT_STRINGS=false`).
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
  // presigned URLs (what OpenTelemetry's HTTP instrumentation redacts by default)
  'sig',
  'awsaccesskeyid',
  // payment
  'card_number',
  'credit_card',
  'cvv',
  'cvv2',
  'cvc',
  'pin',
  'iban',
  'account_number',
  // identity
  'ssn',
  'social_security_number',
  'national_id',
  'tax_id',
  'passport_number',
];

/** A key ending with one of these (normalised) is sensitive whatever precedes it. */
const SENSITIVE_STEMS: readonly string[] = [
  'password',
  'passwd',
  'passphrase',
  'secret',
  'token',
  'apikey',
  'privatekey',
  'authorization',
  'cookie',
  'cookies',
  'credentials',
  'sessionid',
  'signature',
];

const MAX_DEPTH = 16;

/** Lower case, letters and digits only. */
function normalise(key: string): string {
  return key.toLowerCase().replace(/[^a-z0-9]/g, '');
}

/** A function that returns a redacted copy of a value (or the value itself when nothing matched). */
export type Redactor = (value: unknown) => unknown;

/** Options for {@link createRedactor}. */
export interface RedactorOptions {
  /** Turns an Error into a plain object (with its stack) before it is walked. Default: name, message, stack and own properties. */
  serializeError?: (err: Error) => unknown;
  /**
   * Applied to every string value under a key that is not sensitive (messages, stacks, SQL): see
   * `createTextRedaction().redactString` in ./redact-text.ts. Must return its argument itself when
   * nothing changed. Default: strings are kept as they are.
   */
  redactString?: (text: string) => string;
}

function defaultSerializeError(err: Error): unknown {
  return { ...err, type: err.name, message: err.message, stack: err.stack };
}

/**
 * The key test the redactor uses: is a value under `key` sensitive (the default keys plus
 * `extraKeys`, compared normalised, or a key ending with a sensitive stem)? For data that is not
 * an object, such as the parameters of a query string.
 */
export function createKeyMatcher(extraKeys: readonly string[] = []): (key: string) => boolean {
  const keys = new Set([...DEFAULT_REDACT_KEYS, ...extraKeys].map(normalise));
  const cache = new Map<string, boolean>();
  return (key) => {
    let hit = cache.get(key);
    if (hit === undefined) {
      const n = normalise(key);
      hit = keys.has(n) || SENSITIVE_STEMS.some((stem) => n.endsWith(stem));
      if (cache.size < 10_000) cache.set(key, hit);
    }
    return hit;
  };
}

/**
 * Build a redactor for the default keys plus `extraKeys`.
 * @param extraKeys more keys to redact, any letter case and punctuation (matched normalised)
 */
export function createRedactor(extraKeys: readonly string[] = [], options: RedactorOptions = {}): Redactor {
  const sensitive = createKeyMatcher(extraKeys);
  const serializeError = options.serializeError ?? defaultSerializeError;

  const redactString = options.redactString;

  function walk(value: unknown, depth: number, seen: Set<object>): unknown {
    if (typeof value === 'string') return redactString ? redactString(value) : value;
    if (value === null || typeof value !== 'object') return value;
    // Fail closed: returning the original here would leak any secret below this point.
    if (seen.has(value)) return '[Circular]';
    if (depth > MAX_DEPTH) return '[Truncated]';
    if (value instanceof Date || ArrayBuffer.isView(value) || value instanceof Map || value instanceof Set) {
      return value;
    }
    // Errors anywhere (under `cause`, `details.error`, in arrays): serialise, then redact what they carry
    // (`err.config.headers.authorization` of an HTTP client error).
    if (value instanceof Error) return walk(serializeError(value), depth, seen);
    // What JSON.stringify would write is what must be redacted. A toJSON() that returns the object
    // itself makes JSON.stringify write its own keys: they are walked below, like any object's.
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') {
      let json: unknown;
      try {
        json = toJSON.call(value);
      } catch {
        return '[Unserializable]';
      }
      if (json !== value) return walk(json, depth + 1, seen);
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
        if (sensitive(key)) {
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
