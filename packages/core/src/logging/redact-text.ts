/**
 * Redaction inside strings, with the key rule of ./redact.ts: the one place that decides what a
 * secret looks like in text, used for log messages and string fields (./logger.ts), span
 * names, attributes and events at export (../tracing/redact-spans.ts) and Sentry events
 * (../errors/scrub.ts).
 *
 * Two kinds of rules:
 *
 * - URLs and query strings (always on): the values of query or fragment parameters whose name is a
 *   redaction key (`?access_token=x&page=2` becomes `?access_token=[Redacted]&page=2`) and the
 *   password of the userinfo (`https://user:[Redacted]@host`). Used for the
 *   values of keys known to hold a URL (`url.full`, `request.url`, ...) or a query (`url.query`).
 * - Secret shapes in free text ({@link TextRedaction.redactString}; `OBS_REDACT_STRINGS=false` turns
 *   it off): `Bearer`/`Basic` credentials, JSON Web Tokens, the password of a URL's userinfo
 *   (`postgres://app:[Redacted]@db`), and `key=value`, `key: value`, `"key": "value"` and
 *   `key: 'value'` pairs whose key is a redaction key (`password=hunter2`, `{"token": "abc"}`,
 *   `{ apiKey: 'abc' }` as util.inspect prints it, `user[password]=hunter2` as form parameters name it).
 *
 * Cost: a string without `=`, `:`, `eyJ`, `bearer` or `basic` is tested with one regular expression
 * and returned as is (logging's hot path: completion lines carry no such string); only the others are
 * scanned, in one pass. docs/configuration.md has the measured figures
 * (packages/bench/src/redact-strings.mjs).
 */
import { createKeyMatcher, REDACTED } from './redact.js';

/** Redaction of URLs, query strings and free text, for one key list. */
export interface TextRedaction {
  /** `text` with secret shapes replaced, or `text` itself (same string) when none was found or string redaction is off. */
  redactString(text: string): string;
  /** A URL with the sensitive query and fragment parameters and its userinfo password redacted; the rest as written. */
  scrubUrl(url: string): string;
  /** `a=1&token=x` (with or without `?`) with the sensitive parameters redacted; the rest as written. */
  scrubQuery(query: string): string;
}

/** Options for {@link createTextRedaction}. */
export interface TextRedactionOptions {
  /** Look for secret shapes in free text (`OBS_REDACT_STRINGS`). Default true. */
  strings?: boolean;
}

/** Keys (normalised: lower case, letters and digits) whose string value is a URL (`url.full`, `request.url`, `Referer`). */
const URL_KEYS = new Set([
  'url',
  'urlfull',
  'urloriginal',
  'httpurl',
  'httptarget',
  'referer',
  'referrer',
  'httprequestheaderreferer',
  'location',
  'from',
  'to',
]);
/** Keys whose string value is a query string, with or without the leading `?` (`url.query`, `query_string`). */
const QUERY_KEYS = new Set(['querystring', 'httpquery', 'urlquery', 'query']);

/** Lower case, letters and digits only (as ./redact.ts compares keys). */
function normaliseKey(key: string): string {
  return key.toLowerCase().replace(/[^a-z0-9]/g, '');
}

/** `user[password]` → `password`: the last bracketed name of a form parameter, or `key` itself. */
function bracketName(key: string): string {
  return /\[([^[\]]*)\]$/.exec(key)?.[1] ?? key;
}

/** Whether a value under `key` is a URL, a query string, or neither. */
export function urlKind(key: string): 'url' | 'query' | undefined {
  const n = normaliseKey(key);
  return URL_KEYS.has(n) ? 'url' : QUERY_KEYS.has(n) ? 'query' : undefined;
}

/** Cheap pre-check: a string that matches none of these cannot hold a shape {@link TextRedaction.redactString} finds. */
const MAY_HOLD_SECRET = /[=:]|eyJ|bearer|basic/i;
/** `Bearer <token>`, `Basic <base64>` (HTTP authorization schemes) in free text. */
const AUTH_SCHEME = /\b(Bearer|Basic)(\s+)([A-Za-z0-9._~+/-]+=*)/gi;
/** A JSON Web Token: three base64url parts, the first two JSON objects (`eyJ` is `{"`). */
const JWT = /\beyJ[A-Za-z0-9_-]{2,}\.eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*/g;
/**
 * `scheme://user:password@`: the password part of a URL's userinfo, up to the last `@` before the
 * host (as URL parsers read it: `postgres://app:p@ss@db` has the password `p@ss`).
 */
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@:"'\\]*):([^\s/?#"'\\]*)@/gi;
const BACKSLASH = 0x5c;

/** The next `=` or `:` at or after `from`, or -1. */
function nextSeparator(text: string, from: number): number {
  for (let j = from; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c === 0x3d || c === 0x3a) return j;
  }
  return -1;
}

function isBlank(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

function isQuote(c: number): boolean {
  return c === 0x22 || c === 0x27;
}

/**
 * The index of the `quote` that closes a value starting at `from`, or -1. A quote escaped with a
 * backslash does not close it: `"a\"b"`, and `\\\"` inside an escaped JSON string (whose quote is `\"`).
 */
function closingQuote(text: string, quote: string, from: number): number {
  let at = text.indexOf(quote, from);
  while (at !== -1) {
    let backslashes = 0;
    while (at - backslashes > from && text.charCodeAt(at - backslashes - 1) === BACKSLASH) backslashes++;
    if (backslashes % (2 * quote.length) === 0) return at;
    at = text.indexOf(quote, at + 1);
  }
  return -1;
}

/** Letters, `_` (a key starts with one of these). */
function isKeyStart(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f;
}

/** Letters, digits, `_`, `.`, `-` (`db.password`, `x-api-key`). */
function isKeyChar(c: number): boolean {
  return isKeyStart(c) || (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x2d;
}

/** Whitespace, quotes, `\\`, and `, ; & ) } ] >` end an unquoted value. */
function endsBareValue(c: number): boolean {
  return (
    c <= 0x20 ||
    c === 0x22 ||
    c === 0x27 ||
    c === BACKSLASH ||
    c === 0x2c ||
    c === 0x3b ||
    c === 0x26 ||
    c === 0x29 ||
    c === 0x7d ||
    c === 0x5d ||
    c === 0x3e
  );
}

/** A token after `Bearer`/`Basic` is a credential, not an English word: it has a digit, `+/=_.~-`, or mixed case. */
function looksLikeCredential(token: string): boolean {
  return /[0-9+/=_.~-]/.test(token) || (/[a-z]/.test(token) && /[A-Z]/.test(token.slice(1)));
}

/**
 * Build the text redaction for the default redaction keys plus `extraKeys` (`OBS_REDACT_KEYS`).
 * Its functions never throw and return their argument itself (the same string) when nothing changed.
 * @param extraKeys more keys, any letter case and punctuation (matched normalised, as ./redact.ts does)
 */
export function createTextRedaction(
  extraKeys: readonly string[] = [],
  options: TextRedactionOptions = {},
): TextRedaction {
  const sensitive = createKeyMatcher(extraKeys);
  const strings = options.strings ?? true;

  function decode(text: string): string {
    try {
      return decodeURIComponent(text.replace(/\+/g, ' '));
    } catch {
      return text;
    }
  }

  function scrubQuery(query: string): string {
    const lead = query.startsWith('?') ? '?' : '';
    const body = lead ? query.slice(1) : query;
    if (body === '') return query;
    const parts = body.split(/([&;])/);
    let changed = false;
    for (let i = 0; i < parts.length; i += 2) {
      const part = parts[i] ?? '';
      const eq = part.indexOf('=');
      const key = decode(eq === -1 ? part : part.slice(0, eq));
      if (key !== '' && (sensitive(key) || sensitive(bracketName(key)))) {
        parts[i] = `${eq === -1 ? part : part.slice(0, eq)}=${REDACTED}`;
        changed = true;
      }
    }
    return changed ? lead + parts.join('') : query;
  }

  function scrubUserinfo(text: string): string {
    return text.replace(USERINFO, (_m, scheme: string, user: string) => `${scheme}${user}:${REDACTED}@`);
  }

  function scrubUrl(url: string): string {
    const hash = url.indexOf('#');
    const beforeHash = hash === -1 ? url : url.slice(0, hash);
    // A fragment can carry parameters too (`#access_token=...` of OAuth's implicit flow).
    const fragment = hash === -1 ? '' : `#${scrubQuery(url.slice(hash + 1))}`;
    const q = beforeHash.indexOf('?');
    const head = q === -1 ? beforeHash : `${beforeHash.slice(0, q)}?${scrubQuery(beforeHash.slice(q + 1))}`;
    const out = head + fragment;
    // userinfo is always redacted in a URL, whatever OBS_REDACT_STRINGS says
    return out.includes('@') ? scrubUserinfo(out) : out;
  }

  /**
   * `key=value` / `"key": "value"` pairs whose key is sensitive. Linear: it jumps from separator to
   * separator and reads the key backwards from each (a stack trace has dozens of `:`).
   */
  function scrubPairs(text: string): string {
    let out = '';
    let last = 0;
    let i = 0;
    const n = text.length;
    while (i < n) {
      const sep = nextSeparator(text, i);
      if (sep === -1) break;
      i = sep + 1;
      // the key: back over blanks, an optional (escaped) quote, then key characters
      let k = sep - 1;
      while (k >= last && isBlank(text.charCodeAt(k))) k--;
      let keyQuote = '';
      if (k >= last && isQuote(text.charCodeAt(k))) {
        keyQuote = text.charAt(k--);
        if (k >= last && text.charCodeAt(k) === BACKSLASH) {
          keyQuote = `\\${keyQuote}`;
          k--;
        }
      }
      // `user[password]=x` (form parameters as Rails and PHP name them): the name inside the brackets
      if (k >= last && text.charCodeAt(k) === 0x5d) k--;
      const keyEnd = k + 1;
      while (k >= last && isKeyChar(text.charCodeAt(k))) k--;
      let keyStart = k + 1;
      while (keyStart < keyEnd && !isKeyStart(text.charCodeAt(keyStart))) keyStart++;
      if (keyStart >= keyEnd || !sensitive(text.slice(keyStart, keyEnd))) continue; // its value is scanned next
      // the value: after blanks, quoted (up to the same quote) or bare (up to a blank or delimiter)
      let valueStart = sep + 1;
      while (valueStart < n && isBlank(text.charCodeAt(valueStart))) valueStart++;
      let quote: string | undefined;
      if (text.charCodeAt(valueStart) === BACKSLASH && isQuote(text.charCodeAt(valueStart + 1))) {
        quote = text.slice(valueStart, valueStart + 2);
      } else if (isQuote(text.charCodeAt(valueStart))) {
        quote = text.charAt(valueStart);
      }
      let valueEnd: number;
      if (quote !== undefined) {
        valueStart += quote.length;
        const close = closingQuote(text, quote, valueStart);
        const newline = text.indexOf('\n', valueStart);
        // an unterminated quote: fail closed up to the end of the line
        valueEnd = close !== -1 ? close : newline !== -1 ? newline : n;
      } else {
        valueEnd = valueStart;
        while (valueEnd < n && !endsBareValue(text.charCodeAt(valueEnd))) valueEnd++;
      }
      if (valueEnd === valueStart || text.startsWith(REDACTED, valueStart)) continue;
      // `"pin":1234` becomes `"pin":"[Redacted]"`: JSON stays JSON
      const replacement = quote === undefined && keyQuote !== '' ? `${keyQuote}${REDACTED}${keyQuote}` : REDACTED;
      out += text.slice(last, valueStart) + replacement;
      last = valueEnd;
      i = valueEnd;
    }
    return last === 0 ? text : out + text.slice(last);
  }

  function redactString(text: string): string {
    if (!strings || !MAY_HOLD_SECRET.test(text)) return text;
    let out = text;
    if (/bearer|basic/i.test(out)) {
      out = out.replace(AUTH_SCHEME, (match, scheme: string, space: string, token: string) =>
        looksLikeCredential(token) ? `${scheme}${space}${REDACTED}` : match,
      );
    }
    if (out.includes('eyJ')) out = out.replace(JWT, REDACTED);
    if (out.includes('@')) out = scrubUserinfo(out);
    if (out.includes('=') || out.includes(':')) out = scrubPairs(out);
    return out === text ? text : out;
  }

  return { redactString, scrubUrl, scrubQuery };
}
