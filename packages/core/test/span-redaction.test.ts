/** Spans are redacted at export with the rules of logs and Sentry (issue 15, items 12 and 13). */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  type SpanExporter,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDACTED } from '../src/logging/redact.js';
import { createInstrumentations } from '../src/tracing/instrumentations.js';
import { createSpanRedactor, redactingSpanExporter } from '../src/tracing/redact-spans.js';

const SECRET = ['span', 's3cr3t'].join('-');

describe('createSpanRedactor', () => {
  const memory = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: memory })] });
  const tracer = provider.getTracer('redaction-test');

  function oneSpan(build: (span: ReturnType<typeof tracer.startSpan>) => void): ReadableSpan {
    memory.reset();
    const span = tracer.startSpan('work');
    build(span);
    span.end();
    return memory.getFinishedSpans()[0] as ReadableSpan;
  }

  const redact = createSpanRedactor({ redactKeys: ['tenant_code'], redactStrings: true });

  it('redacts URL and query attributes with the logs’ key rule, sensitive keys, and secrets inside strings', () => {
    const span = oneSpan((s) => {
      s.setAttributes({
        'url.full': `https://u:${SECRET}@api.example/x?access_token=${SECRET}&Password=${SECRET}&private_key=${SECRET}&page=2`,
        'url.query': `tenant_code=${SECRET}&page=2`,
        'http.request.header.authorization': [`Bearer ${SECRET}`],
        'db.query.text': `UPDATE users SET password = '${SECRET}' WHERE id = $1`,
        'app.notes': [`token=${SECRET}`, 'plain'],
        'http.response.status_code': 200,
      });
      s.recordException(new Error(`connect ECONNREFUSED postgres://app:${SECRET}@db/app`));
      s.setStatus({ code: SpanStatusCode.ERROR, message: `login failed for {"password": "${SECRET}"}` });
    });
    const out = redact(span);
    expect(JSON.stringify([out.attributes, out.events, out.status, out.name])).not.toContain(SECRET);
    expect(out.attributes).toEqual({
      'url.full': `https://u:${REDACTED}@api.example/x?access_token=${REDACTED}&Password=${REDACTED}&private_key=${REDACTED}&page=2`,
      'url.query': `tenant_code=${REDACTED}&page=2`,
      'http.request.header.authorization': REDACTED,
      // literal values replaced, whichever instrumentation recorded the statement
      'db.query.text': 'UPDATE users SET password = ? WHERE id = $1',
      'app.notes': [`token=${REDACTED}`, 'plain'],
      'http.response.status_code': 200,
    });
    expect(out.events[0]?.attributes?.['exception.message']).toBe(
      `connect ECONNREFUSED postgres://app:${REDACTED}@db/app`,
    );
    expect(out.status).toEqual({ code: SpanStatusCode.ERROR, message: `login failed for {"password": "${REDACTED}"}` });
    // the view keeps the span's identity and methods; the original span is untouched
    expect(out.spanContext()).toEqual(span.spanContext());
    expect(out.startTime).toEqual(span.startTime);
    expect(out.resource).toBe(span.resource);
    expect(String(span.attributes['url.query'])).toContain(SECRET);
  });

  it('passes a span without secrets through as the same object', () => {
    const span = oneSpan((s) => s.setAttributes({ 'url.full': 'http://svc/x?page=2', 'http.route': '/x' }));
    expect(redact(span)).toBe(span);
  });

  it('with OBS_REDACT_STRINGS=false still redacts keys, URLs, query strings and SQL literals', () => {
    const off = createSpanRedactor({ redactKeys: [], redactStrings: false });
    const span = oneSpan((s) =>
      s.setAttributes({ 'url.query': `token=${SECRET}`, 'db.query.text': `password = '${SECRET}'`, cookie: 'c' }),
    );
    expect(off(span).attributes).toEqual({
      'url.query': `token=${REDACTED}`,
      'db.query.text': 'password = ?',
      cookie: REDACTED,
    });
    const more = oneSpan((s) =>
      s.setAttributes({
        'url.full': `https://api.example/x?pass%77ord=${SECRET}#id_token=${SECRET}`,
        'http.target': `/x?api_key=${SECRET}`,
        'app.note': `token=${SECRET}`,
      }),
    );
    expect(off(more).attributes).toEqual({
      'url.full': `https://api.example/x?pass%77ord=${REDACTED}#id_token=${REDACTED}`,
      'http.target': `/x?api_key=${REDACTED}`,
      // strings are kept as written with OBS_REDACT_STRINGS=false
      'app.note': `token=${SECRET}`,
    });
  });

  it('replaces SQL literals under both statement keys, with the quoting rules of the database', () => {
    const sql = `SELECT * FROM "users" WHERE email = 'ann@example.com' AND name = "ann"`;
    const statement = (attrs: Record<string, string>) => redact(oneSpan((s) => s.setAttributes(attrs))).attributes;
    // PostgreSQL: "..." is an identifier
    expect(statement({ 'db.query.text': sql })['db.query.text']).toBe(
      'SELECT * FROM "users" WHERE email = ? AND name = "ann"',
    );
    expect(statement({ 'db.statement': sql, 'db.system': 'postgresql' })['db.statement']).toBe(
      'SELECT * FROM "users" WHERE email = ? AND name = "ann"',
    );
    // PostgreSQL's dollar quoting
    expect(statement({ 'db.query.text': 'SELECT $$ann$$, $tag$bob$tag$' })['db.query.text']).toBe('SELECT ?, ?');
    // MySQL and MariaDB: "..." is a string
    for (const attrs of [
      { 'db.system.name': 'mysql' },
      { 'db.system.name': 'mariadb' },
      { 'db.system': 'mysql' },
    ] as Record<string, string>[]) {
      expect(statement({ ...attrs, 'db.query.text': sql })['db.query.text'], JSON.stringify(attrs)).toBe(
        'SELECT * FROM ? WHERE email = ? AND name = ?',
      );
    }
    expect(
      statement({ 'db.system.name': 'postgresql', 'db.system': 'mysql', 'db.query.text': sql })['db.query.text'],
    ).toBe('SELECT * FROM "users" WHERE email = ? AND name = "ann"');
  });

  it('redacts a secret found only in the name, only in an event or only in the status message, leaving the span as it was', () => {
    const onlyName = oneSpan((s) => s.updateName(`GET /login?token=${SECRET}`));
    expect(redact(onlyName).name).toBe(`GET /login?token=${REDACTED}`);
    const onlyEvent = oneSpan((s) => {
      s.addEvent('tick');
      s.addEvent('retry', { 'app.reason': `password=${SECRET}` });
    });
    const events = redact(onlyEvent).events;
    expect(events.map((e) => [e.name, e.attributes])).toEqual([
      ['tick', undefined],
      ['retry', { 'app.reason': `password=${REDACTED}` }],
    ]);
    expect(onlyEvent.events[1]?.attributes?.['app.reason']).toBe(`password=${SECRET}`);
    const onlyStatus = oneSpan((s) => s.setStatus({ code: SpanStatusCode.ERROR, message: `token=${SECRET}` }));
    expect(redact(onlyStatus).status).toEqual({ code: SpanStatusCode.ERROR, message: `token=${REDACTED}` });
    const notes = oneSpan((s) => s.setAttribute('app.notes', ['plain', `token=${SECRET}`]));
    expect(redact(notes).attributes['app.notes']).toEqual(['plain', `token=${REDACTED}`]);
    expect(notes.attributes['app.notes']).toEqual(['plain', `token=${SECRET}`]);
    // events without secrets leave the span as it is
    const clean = oneSpan((s) => s.addEvent('tick', { n: 1 }));
    expect(redact(clean)).toBe(clean);
  });

  it('redactingSpanExporter hands redacted spans to the exporter and passes shutdown and forceFlush through', async () => {
    const calls: string[] = [];
    let flushed!: () => void;
    const inner: SpanExporter = {
      export: (spans, done) => {
        calls.push(`export ${spans.map((s) => s.name).join(',')}`);
        done({ code: 0 });
      },
      shutdown: async () => {
        calls.push('shutdown');
      },
      forceFlush: () =>
        new Promise<void>((resolve) => {
          flushed = () => {
            calls.push('flushed');
            resolve();
          };
        }),
    };
    const exporter = redactingSpanExporter(inner, { redactKeys: [], redactStrings: true });
    exporter.export([oneSpan((s) => s.updateName(`token=${SECRET}`))], () => {});
    const flushing = exporter.forceFlush?.().then(() => calls.push('forceFlush resolved'));
    flushed();
    await flushing;
    await exporter.shutdown();
    expect(calls).toEqual([`export token=${REDACTED}`, 'flushed', 'forceFlush resolved', 'shutdown']);
    const bare = redactingSpanExporter(
      { export: inner.export, shutdown: inner.shutdown },
      { redactKeys: [], redactStrings: true },
    );
    await expect(bare.forceFlush?.()).resolves.toBeUndefined();
  });
});

describe('fetch (undici) client spans', () => {
  let server: Server;
  let base: string;
  const memory = new InMemorySpanExporter();
  const provider = new TracerProvider({
    spanProcessors: [
      new SimpleSpanProcessor({
        exporter: redactingSpanExporter(memory, { redactKeys: [], redactStrings: true }),
      }),
    ],
  });
  const instrumentations = createInstrumentations(['undici'], { ignoreIncomingPath: () => false });

  beforeAll(async () => {
    server = createServer((_req, res) => res.end('ok'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    for (const i of instrumentations) {
      i.setTracerProvider(provider);
      i.enable();
    }
  });
  afterAll(() => {
    for (const i of instrumentations) i.disable();
    server.close();
  });

  it('are exported with url.full and url.query redacted like http.get spans and logs', async () => {
    await trace.getTracer('t').startActiveSpan('parent', async (parent) => {
      const res = await fetch(`${base}/cb?access_token=${SECRET}&password=${SECRET}&Password=${SECRET}&page=2`);
      await res.text();
      parent.end();
    });
    await provider.forceFlush();
    const [span] = memory.getFinishedSpans().filter((s) => s.attributes['url.full'] !== undefined);
    expect(span).toBeDefined();
    expect(span?.attributes['url.query']).toBe(
      `?access_token=${REDACTED}&password=${REDACTED}&Password=${REDACTED}&page=2`,
    );
    expect(String(span?.attributes['url.full'])).toBe(
      `${base}/cb?access_token=${REDACTED}&password=${REDACTED}&Password=${REDACTED}&page=2`,
    );
  });
});
