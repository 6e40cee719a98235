/**
 * Span redaction at export, with the rules that protect logs and Sentry events
 * (../logging/redact.ts, ../logging/redact-text.ts), whichever instrumentation made the span (http,
 * undici/fetch, database drivers, the app's own):
 *
 * - an attribute under a sensitive key (`http.request.header.authorization`, `db.password`) becomes
 *   `[Redacted]`;
 * - URL attributes (`url.full`, `http.url`, `http.target`, `url.original`) and query attributes
 *   (`url.query`) have the values of sensitive parameters and a userinfo password redacted, with the
 *   same case-insensitive key match as logs (`Password=`, `private_key=`, `accessToken=`);
 * - SQL statements (`db.query.text`, `db.statement`) have their literal values replaced by `?` (the
 *   sanitiser of ../data/sql.ts, also with `OBS_REDACT_STRINGS=false`), for the instrumentations @obs
 *   does not wrap itself (knex, the app's own: `OBS_INSTRUMENTATION_PACKAGES`);
 * - every other string (attributes, the span name, event attributes such as `exception.message`
 *   and `exception.stacktrace`, the status message) has the secret shapes of redact-text.ts
 *   redacted, unless `OBS_REDACT_STRINGS=false`.
 *
 * The exporter sees a redacted view of each span (its own attributes, events and status over the
 * original span); spans without anything to redact are passed as they are. This runs in the batch
 * processor's export, off the request path.
 */
import type { Attributes, AttributeValue } from '@opentelemetry/api';
import type { ReadableSpan, SpanExporter, TimedEvent } from '@opentelemetry/sdk-trace';
import { type SqlDialect, sanitizeSql } from '../data/sql.js';
import { createKeyMatcher, REDACTED } from '../logging/redact.js';
import { createTextRedaction, urlKind } from '../logging/redact-text.js';

/** Attributes that hold a database statement as the app wrote it. */
const STATEMENT_KEYS = new Set(['db.query.text', 'db.statement']);

/** What to redact: the extra keys (`OBS_REDACT_KEYS`) and whether strings are searched (`OBS_REDACT_STRINGS`). */
export interface SpanRedactionSetup {
  redactKeys: readonly string[];
  redactStrings: boolean;
}

/** Returns a redacted view of a span, or the span itself when nothing needed redacting. */
export type SpanRedactor = (span: ReadableSpan) => ReadableSpan;

/** Build the span redactor for these settings. */
export function createSpanRedactor(setup: SpanRedactionSetup): SpanRedactor {
  const sensitive = createKeyMatcher(setup.redactKeys);
  const { redactString, scrubUrl, scrubQuery } = createTextRedaction(setup.redactKeys, {
    strings: setup.redactStrings,
  });

  function value(key: string, v: AttributeValue | undefined, dialect: SqlDialect): AttributeValue | undefined {
    if (v === undefined || v === null) return v;
    if (sensitive(key)) return REDACTED;
    if (typeof v === 'string') {
      // no literal is left to search, and `password = ?` would read as a secret pair
      if (STATEMENT_KEYS.has(key)) return sanitizeSql(v, dialect);
      const kind = urlKind(key);
      return redactString(kind === 'url' ? scrubUrl(v) : kind === 'query' ? scrubQuery(v) : v);
    }
    if (Array.isArray(v)) {
      let copy: unknown[] | undefined;
      v.forEach((item, i) => {
        const next = typeof item === 'string' ? redactString(item) : item;
        if (next !== item) {
          copy ??= v.slice();
          copy[i] = next;
        }
      });
      return (copy as AttributeValue | undefined) ?? v;
    }
    return v;
  }

  function attributes(attrs: Attributes | undefined): Attributes | undefined {
    if (!attrs) return attrs;
    let copy: Attributes | undefined;
    const system = attrs['db.system.name'] ?? attrs['db.system'];
    const dialect: SqlDialect = system === 'mysql' || system === 'mariadb' ? 'mysql' : 'postgresql';
    for (const key of Object.keys(attrs)) {
      const next = value(key, attrs[key], dialect);
      if (next !== attrs[key]) {
        copy ??= { ...attrs };
        copy[key] = next;
      }
    }
    return copy ?? attrs;
  }

  function events(list: TimedEvent[]): TimedEvent[] {
    let copy: TimedEvent[] | undefined;
    list.forEach((event, i) => {
      const next = attributes(event.attributes);
      if (next !== event.attributes) {
        copy ??= list.slice();
        copy[i] = { ...event, attributes: next };
      }
    });
    return copy ?? list;
  }

  return (span) => {
    const name = redactString(span.name);
    const attrs = attributes(span.attributes) as Attributes;
    const evts = events(span.events);
    const message = span.status.message === undefined ? undefined : redactString(span.status.message);
    if (name === span.name && attrs === span.attributes && evts === span.events && message === span.status.message) {
      return span;
    }
    // A view: the span's own fields and methods (spanContext(), resource, times) through the prototype.
    return Object.create(span, {
      name: { value: name, enumerable: true },
      attributes: { value: attrs, enumerable: true },
      events: { value: evts, enumerable: true },
      status: { value: message === span.status.message ? span.status : { ...span.status, message }, enumerable: true },
    }) as ReadableSpan;
  };
}

/** `exporter` fed with redacted spans (see the module comment). */
export function redactingSpanExporter(exporter: SpanExporter, setup: SpanRedactionSetup): SpanExporter {
  const redact = createSpanRedactor(setup);
  return {
    export: (spans, resultCallback) => exporter.export(spans.map(redact), resultCallback),
    shutdown: () => exporter.shutdown(),
    forceFlush: () => exporter.forceFlush?.() ?? Promise.resolve(),
  };
}
