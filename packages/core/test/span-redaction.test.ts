/** Spans are redacted at export with the rules of logs and Sentry (issue 15, items 12 and 13). */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
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
