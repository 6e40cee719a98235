/**
 * Scrubbing of error reports with the rules that protect logs (../logging/redact.ts), applied to the
 * whole event right before it is sent:
 *
 * 1. Every value under a sensitive key is replaced with `[Redacted]`, at any depth: request headers
 *    (`Authorization`, `Cookie`, `X-Api-Key`, the keys of `OBS_REDACT_KEYS`), cookies, `extra`,
 *    `contexts`, `tags`, breadcrumb data, stack frame variables, span data.
 * 2. URLs and query strings, wherever they are (`request.url`, `request.query_string`, the `url` of
 *    HTTP breadcrumbs, `http.query`, `url.full`, a `Referer` header), have the values of sensitive
 *    parameters replaced: `?token=abc&page=2` becomes `?token=[Redacted]&page=2`.
 * 3. A request body (`request.data`) is parsed as JSON or as a form and redacted like an object; a
 *    body that is neither (or was truncated) is replaced whole. Fail closed.
 * 4. Every other string (an exception's message, stack frame context lines, a breadcrumb's message,
 *    span data) has the secret shapes of ../logging/redact-text.ts redacted, as in logs: bearer
 *    tokens, JWTs, URL passwords, `password=...` pairs. `OBS_REDACT_STRINGS=false` turns this off.
 */
import { createKeyMatcher, createRedactor, REDACTED } from '../logging/redact.js';
import { createTextRedaction, urlKind } from '../logging/redact-text.js';

const MAX_DEPTH = 24;

/** Scrubs whole events. */
export type EventScrubber = <T>(event: T) => T;

/** Options for {@link createEventScrubber}. */
export interface EventScrubberOptions {
  /** Redact secret shapes inside strings (`OBS_REDACT_STRINGS`). Default true. */
  strings?: boolean;
}

/** Build the scrubber for the default redaction keys plus `extraKeys` (`OBS_REDACT_KEYS`). */
export function createEventScrubber(
  extraKeys: readonly string[] = [],
  options: EventScrubberOptions = {},
): EventScrubber {
  const { redactString, scrubUrl, scrubQuery } = createTextRedaction(extraKeys, { strings: options.strings });
  const redact = createRedactor(extraKeys, { redactString });
  const sensitive = createKeyMatcher(extraKeys);

  /** A request body: redacted as JSON or as a form; anything else (or a truncated body) replaced. */
  function scrubBody(body: unknown): unknown {
    if (typeof body !== 'string') return body;
    if (body.trim() === '') return body;
    try {
      const parsed = JSON.parse(body) as unknown;
      if (parsed !== null && typeof parsed === 'object') return JSON.stringify(redact(parsed));
      return body; // a JSON number, string or boolean carries no key
    } catch {
      // not JSON
    }
    if (/^[^=&\s]+=[^&\s]*(&[^=&\s]+=[^&\s]*)*$/.test(body.trim())) return scrubQuery(body.trim());
    return REDACTED;
  }

  /** Copy-on-write walk that scrubs URL and query strings by their key. */
  function walk(value: unknown, depth: number, seen: Set<object>): unknown {
    if (value === null || typeof value !== 'object') return value;
    if (seen.has(value) || depth > MAX_DEPTH) return value;
    seen.add(value);
    try {
      if (Array.isArray(value)) {
        let copy: unknown[] | undefined;
        for (let i = 0; i < value.length; i++) {
          const next = walk(value[i], depth + 1, seen);
          if (next !== value[i]) {
            copy ??= value.slice();
            copy[i] = next;
          }
        }
        return copy ?? value;
      }
      if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) return value;
      const record = value as Record<string, unknown>;
      let copy: Record<string, unknown> | undefined;
      for (const key of Object.keys(record)) {
        const inner = record[key];
        let next: unknown;
        const kind = urlKind(key);
        if (typeof inner === 'string') {
          // (the key redactor has already searched every string for secret shapes)
          next = kind === 'url' ? scrubUrl(inner) : kind === 'query' ? scrubQuery(inner) : inner;
        } else if (kind === 'query' && Array.isArray(inner)) {
          // Sentry's `query_string` may be a list of [key, value] pairs
          next = inner.map((pair) =>
            Array.isArray(pair) && typeof pair[0] === 'string' && sensitive(pair[0]) ? [pair[0], REDACTED] : pair,
          );
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

  return <T>(event: T): T => {
    let out = redact(event) as Record<string, unknown>;
    if (out === null || typeof out !== 'object') return out as T;
    const request = out.request as Record<string, unknown> | undefined;
    if (request && typeof request === 'object' && 'data' in request) {
      const data = scrubBody(request.data);
      if (data !== request.data) out = { ...out, request: { ...request, data } };
    }
    return walk(out, 0, new Set()) as T;
  };
}
