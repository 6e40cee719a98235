/**
 * A NestJS app (test/fixtures/nest-app) run as users run theirs, `node --import @obs/register
 * dist/main.js`, on platform-express and on platform-fastify, exporting OTLP to an embedded receiver:
 * route templates with a global prefix, guards, 404s, request ids, error reporting with the app's own
 * filters, probe paths from forRootAsync, file uploads, Nest logger calls, SIGTERM.
 */
import { fileURLToPath } from 'node:url';
import {
  type LogLine,
  type OtlpReceiver,
  PROMPT_EXIT_MS,
  PROMPT_SHUTDOWN_ENV,
  type ReceivedSpan,
  type Service,
  startOtlpReceiver,
  startService,
} from '@obs/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const FIXTURE = fileURLToPath(new URL('./fixtures/nest-app', import.meta.url));
const SERVER = 2;
const ERROR = 2;
const PLATFORMS = ['express', 'fastify'] as const;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const hex = (n: number) => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join('');
const traceparent = () => {
  const traceId = hex(32);
  const parentId = hex(16);
  return { traceId, parentId, header: `00-${traceId}-${parentId}-01` };
};

const start = (platform: string, receiver: OtlpReceiver, env: Record<string, string> = {}) =>
  startService({
    cwd: FIXTURE,
    entry: 'dist/main.js',
    readyPath: '/svc/-/ready',
    env: {
      NEST_PLATFORM: platform,
      OTEL_SERVICE_NAME: `nest-fixture-${platform}`,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      ...env,
    },
  });

describe.each(PLATFORMS)('platform-%s', (platform) => {
  let receiver: OtlpReceiver;
  let service: Service;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    service = await start(platform, receiver);
  });
  afterAll(async () => {
    await service?.stop('SIGKILL');
    await receiver?.close();
  });

  const completion = (requestId: string) =>
    service.waitForLog((l) => l.request_id === requestId && l.msg === 'request completed');
  const serverSpans = (traceId: string) => receiver.spans.filter((s) => s.traceId === traceId && s.kind === SERVER);
  const serverSpan = async (traceId: string): Promise<ReceivedSpan> => {
    const [span] = await receiver.waitForSpans((s) => s.traceId === traceId && s.kind === SERVER);
    if (!span) throw new Error(`no SERVER span for trace ${traceId}`);
    return span;
  };
  const get = (path: string, requestId: string, headers: Record<string, string> = {}) =>
    service.fetch(path, { headers: { 'x-request-id': requestId, ...headers } });
  const failures = (requestId: string): LogLine[] =>
    service.logs().filter((l) => l.request_id === requestId && l.level === 'error' && l.err !== undefined);

  it('continues the incoming trace: one SERVER span with the route template, Nest logger lines and the completion line carry its ids', async () => {
    const tp = traceparent();
    const id = `item-${platform}`;
    const res = await get('/svc/items/5', id, { traceparent: tp.header });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: '5' });
    expect(res.headers.get('x-request-id')).toBe(id);

    const line = await service.waitForLog((l) => l.msg === 'item requested' && l.request_id === id);
    expect(line).toMatchObject({ level: 'info', context: 'FixtureController', item: '5', trace_id: tp.traceId });
    const done = await completion(id);
    expect(done).toMatchObject({
      level: 'info',
      trace_id: tp.traceId,
      'http.request.method': 'GET',
      'http.route': '/svc/items/:id',
      'url.path': '/svc/items/5',
      'http.response.status_code': 200,
    });

    const span = await serverSpan(tp.traceId);
    expect(span.parentSpanId).toBe(tp.parentId);
    expect(span.name).toBe('GET /svc/items/:id');
    expect(span.attributes['http.route']).toBe('/svc/items/:id');
    expect(done.span_id).toBe(span.spanId);
    // spans are exported in the order they end: once a later request's SERVER span is in, a second
    // SERVER span of this trace would be too
    const later = traceparent();
    expect((await get('/svc/items/6', `${id}-later`, { traceparent: later.header })).status).toBe(200);
    await serverSpan(later.traceId);
    expect(serverSpans(tp.traceId)).toHaveLength(1);
  });

  it('keeps the route template for requests guards reject (401, 403), without reporting them as failures', async () => {
    for (const [path, status, template] of [
      ['/svc/guarded/1', 401, '/svc/guarded/:id'],
      ['/svc/closed', 403, '/svc/closed'],
    ] as const) {
      const tp = traceparent();
      const id = `guard-${status}-${platform}`;
      const res = await get(path, id, { traceparent: tp.header });
      expect(res.status).toBe(status);
      const done = await completion(id);
      expect(done).toMatchObject({ level: 'info', 'http.route': template, 'http.response.status_code': status });
      const span = await serverSpan(tp.traceId);
      expect(span.attributes['http.route']).toBe(template);
      expect(span.name).toBe(`GET ${template}`);
      expect(span.status.code).not.toBe(ERROR);
      expect(failures(id)).toEqual([]);
    }
    // the guard lets a good token through, to the same route
    const ok = await get('/svc/guarded/2', `guard-ok-${platform}`, { authorization: 'Bearer letmein' });
    expect(await ok.json()).toEqual({ id: '2' });
  });

  it('puts no route on 404s: under the global prefix, outside it, and at the default probe paths', async () => {
    for (const path of ['/svc/nowhere/at/all', '/elsewhere', '/health/live']) {
      const tp = traceparent();
      const id = `404-${platform}-${path.replaceAll('/', '_')}`;
      const res = await get(path, id, { traceparent: tp.header });
      expect(res.status).toBe(404);
      const done = await completion(id);
      expect(done['http.route']).toBeUndefined();
      expect(done['http.response.status_code']).toBe(404);
      const span = await serverSpan(tp.traceId);
      expect(span.attributes['http.route']).toBeUndefined();
      expect(span.name).toBe('GET');
    }
  });

  it('creates no per-path metric series for 200 random 404s', async () => {
    await get('/svc/items/1', `warm-${platform}`);
    const before = await (await service.fetch('/svc/-/metrics')).text();
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(
        Array.from({ length: 20 }, (_, i) => {
          const random = Math.random().toString(36).slice(2);
          return service.fetch(i % 2 ? `/svc/r-${batch}-${i}/${random}` : `/r-${batch}-${i}/${random}`);
        }),
      );
    }
    const text = await (await service.fetch('/svc/-/metrics')).text();
    const routes = (t: string) => new Set([...t.matchAll(/http_route="([^"]*)"/g)].map((m) => m[1]));
    expect([...routes(text)].filter((r) => !routes(before).has(r))).toEqual([]);
    expect(text).toMatch(/http_server_request_duration_bucket\{[^}]*http_route="\/svc\/items\/:id"/);
    expect(text).not.toMatch(/http_route="[^"]*(\*|r-\d)/);
    const series = (t: string) =>
      t.split('\n').filter((l) => l.startsWith('http_server_request_duration_count')).length;
    expect(series(text) - series(before)).toBeLessThanOrEqual(1);
  });

  it('keeps a well-formed X-Request-Id and replaces a malformed one with a UUID, echoed and logged', async () => {
    const kept = await get('/svc/items/2', `Upstream-Id_42:a/b+c=d@e~f.${platform}`);
    expect(kept.headers.get('x-request-id')).toBe(`Upstream-Id_42:a/b+c=d@e~f.${platform}`);
    await completion(`Upstream-Id_42:a/b+c=d@e~f.${platform}`);
    for (const bad of ['has spaces in it', 'x'.repeat(129), 'quote"d']) {
      const res = await service.fetch('/svc/items/3', { headers: { 'x-request-id': bad } });
      const id = res.headers.get('x-request-id');
      expect(id).toMatch(UUID);
      const line = await service.waitForLog((l) => l.request_id === id && l.msg === 'item requested');
      expect(line.item).toBe('3');
      await completion(id as string);
    }
    const none = await service.fetch('/svc/items/4');
    expect(none.headers.get('x-request-id')).toMatch(UUID);
  });

  it('reports a 5xx error once, at level error with its stack, and marks the SERVER span', async () => {
    for (const [path, message, status] of [
      ['/svc/boom', 'fixture boom', 500], // thrown by the handler
      ['/svc/guard-crash', 'guard crashed', 500], // thrown by a guard, before any interceptor
      ['/svc/http-500', 'database timeout', 500], // a 5xx HttpException
    ] as const) {
      const tp = traceparent();
      const id = `fail-${platform}-${path.slice(5)}`;
      const res = await get(path, id, { traceparent: tp.header });
      expect(res.status).toBe(status);
      const done = await completion(id);
      expect(done).toMatchObject({ level: 'error', 'http.response.status_code': status, trace_id: tp.traceId });
      expect(done['http.route']).toBe(path);
      const lines = failures(id);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ msg: 'request failed', trace_id: tp.traceId });
      expect((lines[0]?.err as { stack?: string } | undefined)?.stack).toContain(message);
      const span = await serverSpan(tp.traceId);
      expect(span.status.code).toBe(ERROR);
      expect(span.events.filter((e) => e.name === 'exception')).toHaveLength(1);
      expect(span.events[0]?.attributes['exception.message']).toBe(message);
    }
    // Nest's own answer for errors that are not HttpExceptions
    expect(await (await service.fetch('/svc/boom')).json()).toEqual({
      statusCode: 500,
      message: 'Internal server error',
    });
    // nor did Nest's ExceptionsHandler log them a second time, with or without a request id
    expect(service.logs().filter((l) => l.context === 'ExceptionsHandler')).toEqual([]);
  });

  it("lets the app's own exception filters answer, calls them, and reports only their 5xx answers", async () => {
    // registered before @obs's catch-all filter (APP_FILTER of the app's root module): still wins
    const teapotTrace = traceparent();
    const teapot = await get('/svc/teapot', `teapot-${platform}`, { traceparent: teapotTrace.header });
    expect(teapot.status).toBe(418);
    expect(await teapot.json()).toEqual({ teapot: true });
    const called = await service.waitForLog(
      (l) => l.msg === 'teapot filter called' && l.request_id === `teapot-${platform}`,
    );
    expect(called.trace_id).toBe(teapotTrace.traceId);
    expect((await completion(`teapot-${platform}`))['http.route']).toBe('/svc/teapot');
    expect(failures(`teapot-${platform}`)).toEqual([]);
    expect((await serverSpan(teapotTrace.traceId)).status.code).not.toBe(ERROR);

    // registered after it (app.useGlobalFilters): wins, and its 503 is a failure of the request
    const depTrace = traceparent();
    const dependency = await get('/svc/dependency', `dep-${platform}`, { traceparent: depTrace.header });
    expect(dependency.status).toBe(503);
    expect(await dependency.json()).toEqual({ retry: true });
    await completion(`dep-${platform}`);
    const lines = failures(`dep-${platform}`);
    expect(lines).toHaveLength(1);
    expect((lines[0]?.err as { stack?: string } | undefined)?.stack).toContain(
      'DependencyDownError: the database is down',
    );
    const span = await serverSpan(depTrace.traceId);
    expect(span.status.code).toBe(ERROR);
    expect(span.events.find((e) => e.name === 'exception')?.attributes['exception.type']).toBe('DependencyDownError');
  });

  it('serves the probes and the scrape at the paths forRootAsync gave, outside logs, traces and metrics', async () => {
    const live = await get('/svc/-/live', `probe-live-${platform}`);
    expect(live.status).toBe(200);
    expect(live.headers.get('content-type')).toContain('application/json');
    expect(await live.json()).toEqual({ status: 'ok', checks: {} });
    const ready = await get('/svc/-/ready', `probe-ready-${platform}`);
    expect(await ready.json()).toEqual({ status: 'ok', checks: {} });
    const metrics = await get('/svc/-/metrics', `probe-metrics-${platform}`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await metrics.text();
    expect(text).toContain('# TYPE http_server_request_duration histogram');
    expect(text).not.toMatch(/http_route="[^"]*-\//);
    // a request after them is exported, they are not
    const tp = traceparent();
    await get('/svc/items/9', `after-probes-${platform}`, { traceparent: tp.header });
    await serverSpan(tp.traceId);
    await completion(`after-probes-${platform}`);
    expect(service.logs().filter((l) => String(l.request_id).startsWith('probe-'))).toEqual([]);
    expect(receiver.spans.filter((s) => String(s.attributes['url.path']).includes('/-/'))).toEqual([]);
  });

  it.runIf(platform === 'express')(
    'keeps the trace and request ids in a handler behind FileInterceptor (multer)',
    async () => {
      const tp = traceparent();
      const form = new FormData();
      form.append('note', 'a field before the file');
      form.append('file', new Blob(['x'.repeat(200_000)]), 'big.txt');
      const res = await service.fetch('/svc/upload', {
        method: 'POST',
        body: form,
        headers: { traceparent: tp.header, 'x-request-id': 'upload-1' },
      });
      expect(res.status).toBe(201);
      expect(await res.json()).toEqual({ name: 'big.txt', size: 200_000 });
      const line = await service.waitForLog((l) => l.msg === 'upload received');
      expect(line).toMatchObject({ request_id: 'upload-1', trace_id: tp.traceId, size: 200_000 });
      const span = await serverSpan(tp.traceId);
      expect((await completion('upload-1'))['http.route']).toBe('/svc/upload');
      expect(span.attributes['http.route']).toBe('/svc/upload');
    },
  );

  it('maps Nest logger calls: levels, context, stack strings, object messages, extra arguments', async () => {
    const id = `forms-${platform}`;
    await get('/svc/log-forms', id);
    await completion(id);
    const lines = service.logs().filter((l) => l.request_id === id && l.msg !== 'request completed');
    expect(lines.find((l) => l.msg === 'error with a stack string')).toMatchObject({
      level: 'error',
      context: 'FixtureController',
      err: { type: 'Error', message: 'error with a stack string', stack: expect.stringContaining('stacked failure') },
    });
    expect(lines.find((l) => l.msg === 'object message')).toMatchObject({ level: 'warn', answer: 42 });
    expect(lines.find((l) => l.msg === 'extra arguments')).toMatchObject({ level: 'info', field: 'f', args: [7] });
    expect(lines.find((l) => l.msg === 'static call')).toMatchObject({ context: 'StaticContext' });
    // debug is below the default OBS_LOG_LEVEL (info)
    expect(lines.some((l) => l.msg === 'a debug line')).toBe(false);
    // Nest's start-up lines went through @obs too
    expect(service.logs().find((l) => l.msg === 'Nest application successfully started')).toMatchObject({
      level: 'info',
      context: 'NestApplication',
    });
  });
});

describe.each(PLATFORMS)('platform-%s: own process per test', (platform) => {
  let receiver: OtlpReceiver;
  let service: Service | undefined;
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
  });
  afterEach(async () => {
    await service?.stop('SIGKILL');
    service = undefined;
    receiver.reset();
  });
  afterAll(async () => {
    await receiver?.close();
  });

  for (const [title, env] of [
    ['without Nest shutdown hooks', {}],
    ['with app.enableShutdownHooks()', { FIXTURE_SHUTDOWN_HOOKS: '1' }],
  ] as const) {
    it(`flushes the spans, then ends by SIGTERM promptly, ${title}`, async () => {
      // Batches would be exported after a minute: only the shutdown flush can deliver them.
      service = await start(platform, receiver, { OTEL_BSP_SCHEDULE_DELAY: '60000', ...PROMPT_SHUTDOWN_ENV, ...env });
      for (const id of [1, 2, 3]) expect((await service.fetch(`/svc/items/${id}`)).status).toBe(200);
      // nothing exported at the signal: only the shutdown flush delivers the spans
      expect(receiver.spans.filter((s) => s.kind === SERVER)).toHaveLength(0);
      const exit = await service.stop('SIGTERM');
      expect(exit.signal).toBe('SIGTERM');
      // promptly: long before the 30 s drain timeout and shutdown budget that a connection or hook
      // holding it up would cost
      expect(exit.elapsedMs).toBeLessThan(PROMPT_EXIT_MS);
      expect(
        receiver.spans.filter((s) => s.kind === SERVER && s.attributes['http.route'] === '/svc/items/:id'),
      ).toHaveLength(3);
    });
  }

  it('delivers the spans when Nest ends the process with process.exit(0) (enableShutdownHooks useProcessExit)', async () => {
    service = await start(platform, receiver, {
      OTEL_BSP_SCHEDULE_DELAY: '60000',
      FIXTURE_SHUTDOWN_HOOKS: 'process-exit',
    });
    for (const id of [1, 2, 3]) expect((await service.fetch(`/svc/items/${id}`)).status).toBe(200);
    const exit = await service.stop('SIGTERM');
    expect(exit).toMatchObject({ code: 0, signal: null });
    const spans = receiver.spans.filter((s) => s.kind === SERVER && s.attributes['http.route'] === '/svc/items/:id');
    // a batch in flight at exit is sent again (at least once): each request's span, by its id
    expect(new Set(spans.map((s) => s.spanId)).size).toBe(3);
  });

  it('still writes completion lines with route templates when telemetry is off (OTEL_SDK_DISABLED=true)', async () => {
    // No instrumentation hands the route over: @obs/nestjs reads it from Express or Fastify itself.
    service = await start(platform, receiver, { OTEL_SDK_DISABLED: 'true' });
    for (const [path, template, status, headers] of [
      ['/svc/items/7', '/svc/items/:id', 200, {}],
      ['/svc/guarded/7', '/svc/guarded/:id', 401, {}],
      ['/svc/guarded/8', '/svc/guarded/:id', 200, { authorization: 'Bearer letmein' }],
      ['/svc/no/such/route', undefined, 404, {}],
    ] as const) {
      const id = `off-${path.replaceAll('/', '_')}`;
      const res = await service.fetch(path, { headers: { 'x-request-id': id, ...headers } });
      expect(res.status).toBe(status);
      const line = await service.waitForLog((l) => l.request_id === id && l.msg === 'request completed');
      expect(line['http.route']).toBe(template);
      expect(line.trace_id).toBeUndefined();
    }
    expect(await (await service.fetch('/svc/-/metrics')).text()).toContain('# @obs telemetry is disabled');
    expect(receiver.requests).toHaveLength(0);
  });
});

describe.each(PLATFORMS)('the logger option on platform-%s', (platform) => {
  let receiver: OtlpReceiver | undefined;
  let own: Service | undefined;
  afterEach(async () => {
    await own?.stop('SIGKILL');
    await receiver?.close();
  });

  it("shapes ObsLoggerService with the app's level, and names what it leaves out once", async () => {
    receiver = await startOtlpReceiver();
    own = await start(platform, receiver, {
      FIXTURE_LOGGER: JSON.stringify({ level: 'warn', messageKey: 'message' }),
    });
    const warning = await own.waitForLog((l) => l['obs.logger_options_ignored'] !== undefined);
    expect(warning).toMatchObject({ level: 'warn', 'obs.logger_options_ignored': ['messageKey'] });
    expect(String(warning.msg)).toContain('@obs/nestjs: logger');
    // level warn: the controller's `log` (info) line is not written, the completion line (@obs's) is
    const res = await own.fetch('/svc/items/5', { headers: { 'x-request-id': 'nest-logger-1' } });
    expect(res.status).toBe(200);
    await own.waitForLog((l) => l.msg === 'request completed' && l.request_id === 'nest-logger-1');
    expect(own.logs().filter((l) => l.msg === 'item requested')).toEqual([]);
    expect(own.logs().filter((l) => l['obs.logger_options_ignored'] !== undefined)).toHaveLength(1);
  });
});
