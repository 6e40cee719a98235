/**
 * @obs/koa in a real Koa 3 app started with `node --import @obs/register`, exporting OTLP/HTTP to an
 * embedded receiver: route templates for router prefixes, nested routers and routers mounted through
 * koa-compose (on spans, metrics and completion lines), request ids and trace correlation, errors
 * logged exactly once whichever path they take (observe(), errorHandler(), Koa's `error` event),
 * client aborts, streamed bodies, and the SIGTERM flush.
 */
import { fileURLToPath } from 'node:url';
import { type OtlpReceiver, type ReceivedSpan, type Service, startOtlpReceiver, startService } from '@obs/testkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

const FIXTURES = fileURLToPath(new URL('./fixtures', import.meta.url));
const SERVER = 2;
const ERROR = 2;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** A fresh W3C traceparent and the ids in it. */
function traceparent() {
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join('');
  const traceId = hex(32);
  const parentId = hex(16);
  return { traceId, parentId, header: `00-${traceId}-${parentId}-01` };
}

const routeLabels = (metrics: string) => new Set([...metrics.matchAll(/http_route="([^"]*)"/g)].map((m) => m[1]));

async function start(receiver: OtlpReceiver, env: Record<string, string> = {}): Promise<Service> {
  return startService({
    cwd: FIXTURES,
    entry: 'app.mjs',
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '100', ...env },
  });
}

describe('route templates', () => {
  let receiver: OtlpReceiver;
  let service: Service;
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    service = await start(receiver);
  });
  afterAll(async () => {
    await service?.stop('SIGKILL');
    await receiver?.close();
  });

  // [case, method, path, headers, status, template (undefined: no route matched)]
  const CASES: [string, string, string, Record<string, string>, number, string | undefined][] = [
    ['router prefix', 'GET', '/api/v1/users/7', {}, 200, '/api/v1/users/:id'],
    ['HEAD on a GET route', 'HEAD', '/api/v1/users/7', {}, 200, '/api/v1/users/:id'],
    [
      'nested router with a param mount path',
      'GET',
      '/api/v1/tenants/acme/users/3',
      {},
      200,
      '/api/v1/tenants/:tenant/users/:id',
    ],
    [
      'router nested two deep',
      'GET',
      '/api/v1/tenants/acme/deep/q/items/9',
      {},
      200,
      '/api/v1/tenants/:tenant/deep/:d/items/:item',
    ],
    ['nested router with its own prefix', 'GET', '/api/v1/x/admin/stats', {}, 200, '/api/v1/x/admin/stats'],
    ['first router in koa-compose', 'GET', '/c1/a/1', {}, 200, '/c1/a/:x'],
    ['second router in koa-compose', 'POST', '/c2/b/2', {}, 200, '/c2/b/:y'],
    [
      'router middleware answering before the route',
      'GET',
      '/api/v1/users/7',
      { 'x-deny': '1' },
      401,
      '/api/v1/users/:id',
    ],
    ['route handler calling next() into more middleware', 'GET', '/api/v1/chain', {}, 200, '/api/v1/chain'],
    ['unmatched path under a prefix', 'GET', '/api/v1/nowhere', {}, 404, undefined],
    ['unmatched method (405 from allowedMethods)', 'POST', '/api/v1/users/7', {}, 405, undefined],
    ['unmatched method in a koa-compose router', 'GET', '/c2/b/2', {}, 405, undefined],
    ['plain middleware, no router', 'GET', '/plain', {}, 200, undefined],
  ];

  it.each(CASES)('%s: %s %s', async (_name, method, path, headers, status, template) => {
    const tp = traceparent();
    const id = `route-${tp.traceId.slice(0, 8)}`;
    const res = await service.fetch(path, {
      method,
      headers: { ...headers, traceparent: tp.header, 'x-request-id': id },
    });
    expect(res.status).toBe(status);
    const line = await service.waitForLog((l) => l.request_id === id && l.msg === 'request completed');
    expect(line['http.route']).toBe(template);
    expect(line).toMatchObject({
      'http.request.method': method,
      'url.path': path,
      'http.response.status_code': status,
    });
    expect(line.trace_id).toBe(tp.traceId);

    const [span] = await receiver.waitForSpans((s) => s.traceId === tp.traceId && s.kind === SERVER);
    expect(span?.attributes['http.route']).toBe(template);
    expect(span?.name).toBe(template ? `${method} ${template}` : method);
    expect(span?.parentSpanId).toBe(tp.parentId);
    expect(line.span_id).toBe(span?.spanId);
    // one SERVER span and no per-middleware spans, counted once a later request's SERVER span is in
    // (spans are exported in the order they end)
    const later = traceparent();
    await service.fetch('/api/v1/users/7', { headers: { traceparent: later.header } });
    await receiver.waitForSpans((s) => s.traceId === later.traceId && s.kind === SERVER);
    expect(receiver.spans.filter((s) => s.traceId === tp.traceId)).toHaveLength(1);
  });

  it('labels http_server_request_duration with exactly the matched templates', async () => {
    const text = await (await service.fetch('/metrics')).text();
    const expected = new Set(CASES.map((c) => c[5]).filter((t): t is string => t !== undefined));
    expect(routeLabels(text)).toEqual(expected);
    expect(text).toMatch(
      /http_server_request_duration_bucket\{[^}]*http_route="\/api\/v1\/tenants\/:tenant\/users\/:id"/,
    );
    expect(text).toMatch(/http_server_request_duration_count\{[^}]*http_route="\/c2\/b\/:y"[^}]*\} 1$/m);
  });

  it('creates no per-path series for 200 random 404s', async () => {
    const series = (t: string) => t.split('\n').filter((l) => l.startsWith('http_server_request_duration_count'));
    const before = await (await service.fetch('/metrics')).text();
    const prefixes = ['/', '/api/v1/', '/api/v1/tenants/acme/', '/c1/', '/c2/b/'];
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        service.fetch(`${prefixes[i % prefixes.length]}r${i}-${Math.random().toString(36).slice(2)}`),
      ),
    );
    const after = await (await service.fetch('/metrics')).text();
    expect(routeLabels(after)).toEqual(routeLabels(before));
    expect(after).not.toMatch(/http_route="[^"]*r\d+-/);
    // they share the unlabelled 404 and 405 series (GET /c2/b/x matches a POST route's path)
    expect(series(after).length - series(before).length).toBeLessThanOrEqual(2);
    // a completion line is written at the end of the server's turn, which can follow the response
    const pathLines = () => service.logs().filter((l) => /r\d+-/.test(String(l['url.path'])));
    await vi.waitFor(() => expect(pathLines()).toHaveLength(200), { timeout: 5000, interval: 20 });
    const lines = pathLines();
    expect(
      lines.every(
        (l) => l['http.route'] === undefined && [404, 405].includes(l['http.response.status_code'] as number),
      ),
    ).toBe(true);
  });
});

describe('request ids and correlation', () => {
  let receiver: OtlpReceiver;
  let service: Service;
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    service = await start(receiver);
  });
  afterAll(async () => {
    await service?.stop('SIGKILL');
    await receiver?.close();
  });

  it('keeps a well-formed X-Request-Id, echoes it, and puts it and the incoming trace id on ctx.log lines', async () => {
    const tp = traceparent();
    const res = await service.fetch('/api/v1/users/5', {
      headers: { traceparent: tp.header, 'x-request-id': 'abc-123' },
    });
    expect(res.headers.get('x-request-id')).toBe('abc-123');
    expect(await res.json()).toEqual({ id: '5', requestId: 'abc-123' });
    const own = await service.waitForLog((l) => l.msg === 'looking up user' && l.request_id === 'abc-123');
    const done = await service.waitForLog((l) => l.msg === 'request completed' && l.request_id === 'abc-123');
    expect(own).toMatchObject({ level: 'info', user: '5', trace_id: tp.traceId });
    expect(done).toMatchObject({ level: 'info', trace_id: tp.traceId, 'http.route': '/api/v1/users/:id' });
    expect(typeof done.duration_ms).toBe('number');
    const [span] = await receiver.waitForSpans((s) => s.traceId === tp.traceId && s.kind === SERVER);
    expect(own.span_id).toBe(span?.spanId);
    expect(done.span_id).toBe(span?.spanId);
  });

  it.each([
    ['malformed', 'bad id with spaces'],
    ['too long', 'x'.repeat(129)],
    ['missing', undefined],
  ])('replaces a %s request id with a new UUID, in the header, ctx.state and the logs', async (_kind, sent) => {
    const res = await service.fetch('/api/v1/users/6', { headers: sent === undefined ? {} : { 'x-request-id': sent } });
    const id = res.headers.get('x-request-id');
    expect(id).toMatch(UUID);
    expect(((await res.json()) as { requestId: string }).requestId).toBe(id);
    await service.waitForLog((l) => l.request_id === id && l.msg === 'request completed');
    expect(service.stdout()).not.toContain(sent ?? 'no-such-text');
  });

  it('answers the probes and /metrics with no completion line and no span', async () => {
    for (const path of ['/health/live', '/health/ready']) {
      const res = await service.fetch(path, { headers: { 'x-request-id': `probe-${path.length}` } });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: 'ok', checks: {} });
    }
    const metrics = await service.fetch('/metrics', { headers: { 'x-request-id': 'scrape-1' } });
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    expect(await metrics.text()).toContain('# TYPE http_server_request_duration histogram');
    await service.fetch('/api/v1/users/1', { headers: { 'x-request-id': 'after-probes' } });
    await service.waitForLog((l) => l.request_id === 'after-probes' && l.msg === 'request completed');
    await receiver.waitForSpans((s) => s.kind === SERVER && s.attributes['url.path'] === '/api/v1/users/1');
    expect(service.logs().filter((l) => /^(probe-|scrape-)/.test(String(l.request_id)))).toHaveLength(0);
    const paths = receiver.spans.map((s) => s.attributes['url.path']);
    expect(paths.filter((p) => p === '/metrics' || String(p).startsWith('/health'))).toEqual([]);
  });
});

describe.each([
  ['errorHandler() and an app error listener', 'json'],
  ["Koa's own error handling", 'koa'],
])('errors with %s', (_title, mode) => {
  let receiver: OtlpReceiver;
  let service: Service;
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    service = await start(receiver, { FIXTURE_MODE: mode });
  });
  afterAll(async () => {
    await service?.stop('SIGKILL');
    await receiver?.close();
  });

  const errorLines = (id: string) => service.logs().filter((l) => l.request_id === id && l.level === 'error' && l.err);
  /** A later request's completion line: a process writes its lines in order, so an earlier request's are out. */
  const laterLine = async (id: string) => {
    const later = `${id}-later`;
    expect((await service.fetch('/api/v1/users/7', { headers: { 'x-request-id': later } })).status).toBe(200);
    await service.waitForLog((l) => l.request_id === later && l.msg === 'request completed');
  };
  const serverSpan = async (traceId: string): Promise<ReceivedSpan> => {
    const [span] = await receiver.waitForSpans((s) => s.traceId === traceId && s.kind === SERVER);
    if (!span) throw new Error('no server span');
    return span;
  };

  it('logs a thrown error once at level error with its stack, marks the span and answers 500', async () => {
    const tp = traceparent();
    const id = `boom-${mode}`;
    const res = await service.fetch('/api/v1/boom', { headers: { traceparent: tp.header, 'x-request-id': id } });
    expect(res.status).toBe(500);
    expect(res.headers.get('x-request-id')).toBe(id);
    if (mode === 'json') expect(await res.json()).toEqual({ error: 'Internal server error' });
    else expect(await res.text()).toBe('Internal Server Error');
    const done = await service.waitForLog((l) => l.request_id === id && l.msg === 'request completed');
    expect(done).toMatchObject({ level: 'error', 'http.route': '/api/v1/boom', 'http.response.status_code': 500 });
    await laterLine(id);
    const failures = errorLines(id);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ msg: 'request failed', trace_id: tp.traceId });
    expect((failures[0]?.err as { stack?: string } | undefined)?.stack).toMatch(
      /^Error: fixture boom\n\s+at .*app\.mjs/,
    );
    const span = await serverSpan(tp.traceId);
    expect(span.status.code).toBe(ERROR);
    expect(span.events.filter((e) => e.name === 'exception')).toHaveLength(1);
    if (mode === 'json') {
      // errorHandler() hands the error on to the app's own listener, which still sees it once
      expect(service.logs().filter((l) => l.msg === 'app error listener' && l.request === id)).toHaveLength(1);
    }
    // Koa's default listener (a stack dump on stderr) is replaced, not added to
    expect(service.stderr()).not.toContain('fixture boom');
  });

  it("logs an error thrown while streaming the body (reported only through Koa's error event) once", async () => {
    const id = `stream-error-${mode}`;
    const res = await service.fetch('/api/v1/stream-error', { headers: { 'x-request-id': id } });
    await res.text().catch(() => undefined);
    // the request's own line, whichever it is, then the one true outcome: the error was recorded
    // before the response was torn down, so it completed at level error with the error's type, not aborted
    const done = await service.waitForLog(
      (l) => l.request_id === id && /request (completed|aborted)/.test(String(l.msg)),
    );
    expect(done).toMatchObject({
      msg: 'request completed',
      level: 'error',
      'http.response.status_code': 200,
      'error.type': 'Error',
    });
    await laterLine(id);
    const failures = errorLines(id);
    expect(failures).toHaveLength(1);
    expect((failures[0]?.err as { message?: string } | undefined)?.message).toBe('fixture stream broke');
    expect(service.stderr()).not.toContain('fixture stream broke');
  });

  it('logs a thrown 503 once and does not log 4xx errors', async () => {
    const res = await service.fetch('/api/v1/unavailable', { headers: { 'x-request-id': `503-${mode}` } });
    expect(res.status).toBe(503);
    if (mode === 'json') expect(await res.json()).toEqual({ error: 'Internal server error' });
    const teapot = await service.fetch('/api/v1/teapot', { headers: { 'x-request-id': `418-${mode}` } });
    expect(teapot.status).toBe(418);
    if (mode === 'json') expect(await teapot.json()).toEqual({ error: 'short and stout' });
    await service.waitForLog((l) => l.request_id === `418-${mode}` && l.msg === 'request completed');
    await laterLine(`418-${mode}`);
    expect(errorLines(`503-${mode}`)).toHaveLength(1);
    expect(service.logs().filter((l) => l.request_id === `418-${mode}` && l.level !== 'info')).toEqual([]);
  });

  it('answers malformed JSON with a 400, as a client error: no error line, no 500', async () => {
    const tp = traceparent();
    const id = `malformed-${mode}`;
    const res = await service.fetch('/api/v1/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: tp.header, 'x-request-id': id },
      body: '{"password": "hunter2-secret", ',
    });
    expect(res.status).toBe(400);
    if (mode === 'json') expect(await res.json()).toEqual({ error: 'Bad Request' });
    const done = await service.waitForLog((l) => l.request_id === id && l.msg === 'request completed');
    expect(done).toMatchObject({ level: 'info', 'http.response.status_code': 400 });
    expect(errorLines(id)).toEqual([]);
    expect((await serverSpan(tp.traceId)).status.code).not.toBe(ERROR);
    expect(service.stdout() + service.stderr()).not.toContain('hunter2-secret');
  });

  it('answers requests no route matched with 404 (JSON with errorHandler)', async () => {
    const res = await service.fetch('/api/v1/nowhere/at/all');
    expect(res.status).toBe(404);
    if (mode === 'json') expect(await res.json()).toEqual({ error: 'Not found' });
    else expect(await res.text()).toBe('Not Found');
  });

  it('records a client that aborts a streamed body once, as aborted, and not as a failure', async () => {
    const id = `abort-stream-${mode}`;
    const controller = new AbortController();
    // 1000 chunks, 60 ms apart: the body is still streaming when the abort arrives, however busy the
    // machine (with the usual 5 chunks a slow client's abort could come after the whole body was sent).
    const res = await service.fetch('/api/v1/stream?chunks=1000', {
      signal: controller.signal,
      headers: { 'x-request-id': id },
    });
    const reader = res.body?.getReader();
    await reader?.read();
    controller.abort();
    await reader?.read().catch(() => undefined);
    // @obs's line for the request (in json mode the app's error listener may write its line first)
    const line = await service.waitForLog((l) => l.request_id === id && l.msg !== 'app error listener');
    expect(line).toMatchObject({
      msg: 'request aborted',
      aborted: true,
      level: 'warn',
      'http.response.status_code': 200,
    });
    // The aborted body stops at its next chunk (60 ms). A whole stream sent now ends after that: once
    // its line is out, any second line of the aborted request would be too.
    const after = `${id}-after`;
    expect(await (await service.fetch('/api/v1/stream', { headers: { 'x-request-id': after } })).text()).toContain(
      'chunk 4',
    );
    await service.waitForLog((l) => l.request_id === after && l.msg === 'request completed');
    // @obs's own lines for the request: the abort, once; the app's error listener line (json mode),
    // written while the request's context is active, carries its id too
    const lines = service.logs().filter((l) => l.request_id === id);
    expect(lines.filter((l) => l.msg !== 'app error listener')).toHaveLength(1);
    // (the error the app's listener sees is Node's: "Premature close" or "read ECONNRESET", depending on
    // which end of the socket noticed first; what @obs owes is the request's id on the line)
    if (mode === 'json') expect(lines.filter((l) => l.msg === 'app error listener')).toHaveLength(1);
    expect(service.stderr()).toBe('');
  });
});

describe('streams and lifecycle', () => {
  let receiver: OtlpReceiver;
  let service: Service | undefined;
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
  });
  afterAll(async () => {
    await service?.stop('SIGKILL');
    await receiver?.close();
  });

  it("measures a streamed body's whole duration", async () => {
    service = await start(receiver);
    const tp = traceparent();
    const res = await service.fetch('/api/v1/stream', {
      headers: { 'x-request-id': 'stream-1', traceparent: tp.header },
    });
    expect(await res.text()).toContain('chunk 4');
    const line = await service.waitForLog((l) => l.request_id === 'stream-1' && l.msg === 'request completed');
    expect(line.duration_ms as number).toBeGreaterThanOrEqual(240);
    expect(line['http.route']).toBe('/api/v1/stream');
    const [span] = await receiver.waitForSpans((s) => s.traceId === tp.traceId && s.kind === SERVER);
    expect(span?.durationMs).toBeGreaterThanOrEqual(240);
    expect(span?.attributes['http.route']).toBe('/api/v1/stream');
    await service.stop('SIGKILL');
    service = undefined;
  });
});
