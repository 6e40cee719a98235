/**
 * Error reporting with the real `@sentry/node` 11 in this process, sending to @obs/testkit's local
 * ingest server: request errors through the observer (recorded and logged), trace linkage, scrubbing,
 * `beforeSend`, manual capture, breadcrumbs, what Sentry must leave alone (global providers,
 * propagation headers), and the shutdown flush.
 */
import { once } from 'node:events';
import { createServer, get, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { type ReceivedSentryEvent, type SentryIngest, startSentryIngest } from '@obs/testkit';
import { context, propagation, type Span, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { RPCType, setRPCMetadata, W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config/resolve.js';
import { withRequestId } from '../src/context.js';
import { captureDiagnostics } from '../src/diag.js';
import { type ErrorReporter, startErrorReporting } from '../src/errors/reporter.js';
import type { ObservedRequest } from '../src/http/observer.js';
import { RequestObserver } from '../src/http/observer.js';
import type { ShutdownHook } from '../src/lifecycle/lifecycle.js';
import { memoryLogger } from './helpers.js';

type Handler = (req: IncomingMessage, res: ServerResponse, observed: ObservedRequest) => void | Promise<void>;

const requireHere = createRequire(import.meta.url);
/**
 * A secret, built at run time: Sentry sends the source lines around each stack frame (ContextLines),
 * so a secret written literally in this file would reach the ingest server as source code.
 */
const secret = (name: string) => [name, 's3cr3t'].join('-');
const QS_SECRET = secret('qs');
const QS_PIN = secret('qs-pin');
const HDR_SECRET = secret('hdr');
const HDR_PIN = secret('hdr-pin');
const BS_SECRET = secret('bs');
const BC_SECRET = secret('bc');
const BC_PASSWORD = secret('bc-password');
const STR_SECRET = secret('in-a-string');
const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
const tracer = provider.getTracer('errors-sentry-test');

let ingest: SentryIngest;
let reporter: ErrorReporter;
let server: Server;
let baseUrl: string;
let handler: Handler;
/** The server span of the last request. */
let serverSpan: Span;
const diagnostics: string[] = [];
let restoreDiagnostics: () => void;

beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  restoreDiagnostics = captureDiagnostics(diagnostics);
  ingest = await startSentryIngest();
  const config = resolveConfig(
    {
      serviceName: 'errors-test',
      redactKeys: ['pin'],
      shutdownTimeoutMs: 2000,
      sentry: { dsn: ingest.dsn(), environment: 'test' },
    },
    {},
  );
  reporter = startErrorReporting(config);
  const { logger } = memoryLogger();
  const observer = new RequestObserver(
    () => logger,
    () => reporter,
  );
  server = createServer((req, res) => {
    serverSpan = tracer.startSpan(`${req.method} server`, { kind: SpanKind.SERVER });
    const span = serverSpan;
    const ctx = setRPCMetadata(trace.setSpan(context.active(), span), { type: RPCType.HTTP, span });
    context.with(ctx, () => {
      const observed = observer.begin(req, res);
      res.once('close', () => span.end());
      context.with(observed.context, () => void handler(req, res, observed));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  server.close();
  await reporter.flush(1000);
  await ingest.close();
  restoreDiagnostics();
});

const byRequestId = (id: string) => (e: ReceivedSentryEvent) => e.tags?.request_id === id;

/** The events of a request id, once Sentry has processed and sent everything captured so far. */
async function eventsOf(id: string): Promise<ReceivedSentryEvent[]> {
  await ingest.waitForEvents(byRequestId(id));
  // flush waits for the events still in Sentry's processing and for the transport's answers, which the
  // ingest gives once it has read each envelope: a second event of this request would be in by now
  expect(await reporter.flush(10_000)).toBe(true);
  return ingest.events().filter(byRequestId(id));
}

describe('Sentry on top of the OpenTelemetry setup', () => {
  it('is the backend, leaves the global tracer provider and propagator alone, and drops the integrations @obs replaces', () => {
    expect(reporter.backend).toBe('sentry');
    const Sentry = requireHere('@sentry/node') as typeof import('@sentry/node');
    const client = Sentry.getClient();
    expect(client).toBeDefined();
    for (const name of ['Express', 'Fastify', 'Koa', 'Dedupe'])
      expect(client?.getIntegrationByName(name)).toBeUndefined();
    for (const name of ['OpenTelemetry', 'Http', 'OnUncaughtException', 'OnUnhandledRejection']) {
      expect(client?.getIntegrationByName(name)).toBeDefined();
    }
    expect(client?.getOptions()).toMatchObject({
      enableOpenTelemetrySetup: false,
      enableRuntimeChannelInjection: false,
    });
    expect(client?.getOptions().tracesSampleRate).toBeUndefined();
    expect(propagation.fields()).toEqual(['traceparent', 'tracestate']);
    const delegate = (trace.getTracerProvider() as unknown as { getDelegate(): unknown }).getDelegate();
    expect(delegate).toBe(provider);
  });

  it('reports an error the adapter recorded once, with the trace and span ids, route, request id and scrubbed request', async () => {
    handler = (_req, res, observed) => {
      observed.setRoute('/things/:id');
      observed.recordError(new Error('kaboom'));
      observed.recordError(new Error('second call ignored'));
      res.statusCode = 500;
      res.end('{}');
    };
    const res = await fetch(`${baseUrl}/things/7?token=${QS_SECRET}&pin=${QS_PIN}&page=2`, {
      headers: { authorization: `Bearer ${HDR_SECRET}`, 'x-request-id': 'rec-1', pin: HDR_PIN },
    });
    expect(res.status).toBe(500);
    const events = await eventsOf('rec-1');
    expect(events).toHaveLength(1);
    const [event] = events as [ReceivedSentryEvent];
    const sc = serverSpan.spanContext();
    expect(event.contexts?.trace).toMatchObject({ trace_id: sc.traceId, span_id: sc.spanId });
    expect(event.exception?.values?.[0]).toMatchObject({
      type: 'Error',
      value: 'kaboom',
      mechanism: { type: 'auto.http.obs', handled: false },
    });
    expect(event.tags).toMatchObject({
      'http.route': '/things/:id',
      request_id: 'rec-1',
      'http.request.method': 'GET',
      'http.response.status_code': 500,
      'service.name': 'errors-test',
    });
    expect(event.transaction).toBe('GET /things/:id');
    expect(event.environment).toBe('test');
    expect(event.request?.url).toBe(`${baseUrl}/things/7?token=[Redacted]&pin=[Redacted]&page=2`);
    expect(event.request?.headers).toMatchObject({ authorization: '[Redacted]', pin: '[Redacted]' });
    for (const value of [HDR_SECRET, HDR_PIN, QS_SECRET, QS_PIN]) expect(ingest.text()).not.toContain(value);
  });

  it('reports an Error logged at error while handling a 5xx, with the span active where it was logged', async () => {
    let inner: Span | undefined;
    handler = (_req, res, observed) => {
      tracer.startActiveSpan('inner', (span) => {
        inner = span;
        observed.log.warn({ err: new Error('just a warning') }, 'retrying');
        observed.log.error({ err: new RangeError('declined') }, 'Failed to create order');
        observed.log.error({ err: new Error('logged later') }, 'another one');
        span.end();
      });
      res.statusCode = 500;
      res.end('{}');
    };
    await (await fetch(`${baseUrl}/orders`, { method: 'POST', headers: { 'x-request-id': 'log-1' } })).text();
    const events = await eventsOf('log-1');
    expect(events).toHaveLength(1);
    const [event] = events as [ReceivedSentryEvent];
    expect(event.exception?.values?.[0]).toMatchObject({
      type: 'RangeError',
      value: 'declined',
      mechanism: { type: 'auto.log.obs', handled: true },
    });
    expect(event.contexts?.trace).toMatchObject({
      trace_id: serverSpan.spanContext().traceId,
      span_id: inner?.spanContext().spanId,
    });
  });

  it('reports nothing for 4xx answers (by default), whatever was logged or noted', async () => {
    handler = (_req, res, observed) => {
      observed.noteError(Object.assign(new Error('bad input'), { status: 400 }));
      observed.log.error({ err: new Error('logged in a 400') }, 'odd but possible');
      res.statusCode = 400;
      res.end('{}');
    };
    await (await fetch(`${baseUrl}/bad`, { headers: { 'x-request-id': 'four-1' } })).text();
    handler = (_req, res, observed) => {
      observed.recordError(new Error('sentinel'));
      res.statusCode = 500;
      res.end();
    };
    await (await fetch(`${baseUrl}/sentinel`, { headers: { 'x-request-id': 'four-sentinel' } })).text();
    expect(await eventsOf('four-sentinel')).toHaveLength(1);
    expect(ingest.events().filter(byRequestId('four-1'))).toEqual([]);
  });

  it('captures by hand with the active span and request id, and never the same Error object twice', async () => {
    const err = new Error('job failed');
    let sc: ReturnType<Span['spanContext']> | undefined;
    tracer.startActiveSpan('job', (span) => {
      sc = span.spanContext();
      context.with(withRequestId(context.active(), 'job-1'), () => {
        expect(reporter.captureException(err, { tags: { queue: 'mail' }, extra: { attempt: 3 } })).toEqual(
          expect.any(String),
        );
        reporter.captureException(err);
      });
      span.end();
    });
    const events = await eventsOf('job-1');
    expect(events).toHaveLength(1);
    expect(events[0]?.contexts?.trace).toMatchObject({ trace_id: sc?.traceId, span_id: sc?.spanId });
    expect(events[0]?.tags).toMatchObject({ queue: 'mail' });
    expect(events[0]?.extra).toMatchObject({ attempt: 3 });
  });

  it('runs the app beforeSend (edit or drop), then scrubs what it returns; a throwing one drops the event', async () => {
    reporter.setBeforeSend((event, hint) => {
      if ((hint.originalException as Error).message === 'drop me') return null;
      if ((hint.originalException as Error).message === 'throw') throw new Error('bug in beforeSend');
      return { ...event, extra: { ...event.extra, note: 'added by beforeSend', apiToken: BS_SECRET } };
    });
    try {
      const tag = (id: string) => ({ tags: { request_id: id } });
      reporter.captureException(new Error('drop me'), tag('bs-drop'));
      reporter.captureException(new Error('throw'), tag('bs-throw'));
      reporter.captureException(new Error('keep me'), tag('bs-keep'));
      const [event] = await eventsOf('bs-keep');
      expect(event?.extra).toMatchObject({ note: 'added by beforeSend', apiToken: '[Redacted]' });
      expect(ingest.events().filter((e) => ['bs-drop', 'bs-throw'].includes(String(e.tags?.request_id)))).toEqual([]);
      expect(ingest.text()).not.toContain(BS_SECRET);
      expect(diagnostics.some((l) => l.includes('the Sentry beforeSend callback threw (bug in beforeSend)'))).toBe(
        true,
      );
    } finally {
      reporter.setBeforeSend(undefined);
    }
  });

  it('scrubs breadcrumbs', async () => {
    const Sentry = requireHere('@sentry/node') as typeof import('@sentry/node');
    Sentry.addBreadcrumb({
      category: 'http',
      type: 'http',
      data: { url: `http://svc.internal/callback?code=1&access_token=${BC_SECRET}`, method: 'GET' },
    });
    Sentry.addBreadcrumb({ category: 'custom', message: 'kept', data: { password: BC_PASSWORD } });
    reporter.captureException(new Error('with breadcrumbs'), { tags: { request_id: 'crumbs-1' } });
    const [event] = await eventsOf('crumbs-1');
    const crumbs = (event?.breadcrumbs ?? []) as { data?: Record<string, unknown> }[];
    expect(crumbs.map((c) => c.data?.url).filter(Boolean)).toContain(
      'http://svc.internal/callback?code=1&access_token=[Redacted]',
    );
    expect(crumbs.find((c) => c.data && 'password' in c.data)?.data?.password).toBe('[Redacted]');
    expect(ingest.text()).not.toContain(BC_SECRET);
    expect(ingest.text()).not.toContain(BC_PASSWORD);
  });

  it('redacts secrets inside strings: the exception message, breadcrumb messages, extra text (issue 15, item 13)', async () => {
    const Sentry = requireHere('@sentry/node') as typeof import('@sentry/node');
    Sentry.addBreadcrumb({ category: 'query', message: `UPDATE users SET password = '${STR_SECRET}'` });
    const err = new Error(`connect ECONNREFUSED postgres://app:${STR_SECRET}@db:5432/app`);
    reporter.captureException(err, {
      tags: { request_id: 'strings-1' },
      extra: { upstream: `401 for Authorization: Bearer ${STR_SECRET}` },
    });
    const [event] = await eventsOf('strings-1');
    const values = (event?.exception as { values: { value: string }[] } | undefined)?.values ?? [];
    expect(values[0]?.value).toBe('connect ECONNREFUSED postgres://app:[Redacted]@db:5432/app');
    expect(event?.extra).toMatchObject({ upstream: '401 for Authorization: [Redacted] [Redacted]' });
    expect(ingest.text()).not.toContain(STR_SECRET);
  });

  it('adds no sentry-trace or baggage header to outgoing requests', async () => {
    const seen: Record<string, unknown>[] = [];
    const target = createServer((req, res) => {
      seen.push(req.headers);
      res.end('ok');
    });
    target.listen(0, '127.0.0.1');
    await once(target, 'listening');
    const url = `http://127.0.0.1:${(target.address() as AddressInfo).port}/out`;
    try {
      await tracer.startActiveSpan('outgoing', async (span) => {
        await (await fetch(url)).text();
        await new Promise<void>((resolve) => get(url, (res) => res.resume().on('end', resolve)));
        span.end();
      });
    } finally {
      target.close();
    }
    expect(seen).toHaveLength(2);
    for (const headers of seen) {
      expect(headers).not.toHaveProperty('sentry-trace');
      expect(headers).not.toHaveProperty('baggage');
    }
  });

  it('flushes at shutdown through the onShutdown hook', async () => {
    const hooks: ShutdownHook[] = [];
    reporter.registerShutdown((hook) => hooks.push(hook));
    expect(hooks).toHaveLength(1);
    reporter.captureException(new Error('just before shutdown'), { tags: { request_id: 'shutdown-1' } });
    await hooks[0]?.();
    // flushed: already there, no waiting
    expect(ingest.events().filter(byRequestId('shutdown-1'))).toHaveLength(1);
  });
});
