/**
 * The plugin in a fixture app (test/fixtures/app.mjs) started with `node --import @obs/register`:
 * nested prefixes, the app's own pino logger, bodies, route log levels, client errors, aborts,
 * streams, `app.inject()`, the app without `obsFastifyOptions()`, custom probe paths, without and with
 * `@fastify/otel` (opt-in), a disabled SDK, and the SIGTERM flush.
 */
import { fileURLToPath } from 'node:url';
import { type OtlpReceiver, runNode, type Service, startOtlpReceiver, startService } from '@obs/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { duplicateKeys, jsonLines } from './json-keys.js';

const FIXTURES = fileURLToPath(new URL('./fixtures', import.meta.url));
const SERVER = 2;
const INTERNAL = 1;
const TEMPLATE = '/api/v1/tenants/:tenant/users/:id';

const echo = (headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify({ user: { email: 'a@b.c', PassWord: 'body-secret-1' }, items: [{ token: 'array-secret-2' }] }),
});

describe('the plugin in an app', () => {
  let receiver: OtlpReceiver;
  let service: Service;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    service = await startService({
      cwd: FIXTURES,
      entry: 'app.mjs',
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '100', OTEL_SERVICE_NAME: 'fixture' },
    });
  });
  afterAll(async () => {
    await service?.stop('SIGKILL');
    await receiver?.close();
  });

  it('puts the full template of nested prefixes on the span, the metric and the lines', async () => {
    const res = await service.fetch('/api/v1/tenants/acme/users/42', { headers: { 'x-request-id': 'nested-1' } });
    expect(await res.json()).toEqual({ id: '42', tenant: 'acme' });
    const line = await service.waitForLog((l) => l.request_id === 'nested-1' && l.msg === 'request completed');
    expect(line['http.route'], JSON.stringify(service.logs().filter((l) => l.request_id === 'injected-1'))).toBe(
      TEMPLATE,
    );
    const lookup = await service.waitForLog((l) => l.msg === 'looking up user' && l.request_id === 'nested-1');
    expect(lookup.trace_id).toBe(line.trace_id);
    const [span] = await receiver.waitForSpans((s) => s.kind === SERVER && s.traceId === line.trace_id);
    expect(span?.attributes['http.route']).toBe(TEMPLATE);
    const metrics = await (await service.fetch('/metrics')).text();
    expect(metrics).toContain(`http_route="${TEMPLATE}"`);
  });

  it("correlates the app's own pino logger with the trace and the request id", async () => {
    const res = await service.fetch('/own-logger', { headers: { 'x-request-id': 'own-1' } });
    expect(res.status).toBe(200);
    const line = await service.waitForLog((l) => l.msg === 'line from the app logger');
    expect(line.request_id).toBe('own-1');
    expect(line.trace_id).toMatch(/^[0-9a-f]{32}$/);
    const [server] = await receiver.waitForSpans((s) => s.kind === SERVER && s.traceId === line.trace_id);
    expect(server?.attributes['http.route']).toBe('/own-logger');
  });

  it('keeps the request id after the body is parsed and redacts secrets in headers and body', async () => {
    const res = await service.fetch('/echo', echo({ 'x-request-id': 'echo-1', Authorization: 'Bearer hdr-secret-3' }));
    expect(res.status).toBe(200);
    const line = await service.waitForLog((l) => l.msg === 'echo');
    expect(line.request_id).toBe('echo-1');
    expect(line.trace_id).toMatch(/^[0-9a-f]{32}$/);
    expect((line.headers as Record<string, string>).authorization).toBe('[Redacted]');
    expect((line.body as { user: Record<string, string> }).user).toEqual({ email: 'a@b.c', PassWord: '[Redacted]' });
    for (const secret of ['body-secret-1', 'array-secret-2', 'hdr-secret-3']) {
      expect(service.stdout()).not.toContain(secret);
    }
  });

  it("honours a route's logLevel on request.log", async () => {
    await service.fetch('/quiet', { headers: { 'x-request-id': 'quiet-1' } });
    const warn = await service.waitForLog((l) => l.msg === 'quiet warn line');
    expect(warn.request_id).toBe('quiet-1');
    await service.waitForLog((l) => l.request_id === 'quiet-1' && l.msg === 'request completed');
    expect(service.logs().some((l) => l.msg === 'quiet info line')).toBe(false);
  });

  it('answers a 4xx error with its status text and records no failure', async () => {
    const res = await service.fetch('/teapot', { headers: { 'x-request-id': 'teapot-1' } });
    expect(res.status).toBe(418);
    expect(await res.json()).toEqual({ error: "I'm a Teapot" });
    const line = await service.waitForLog((l) => l.request_id === 'teapot-1' && l.msg === 'request completed');
    expect(line).toMatchObject({ level: 'info', 'http.response.status_code': 418, 'http.route': '/teapot' });
    expect(service.logs().filter((l) => l.request_id === 'teapot-1' && l.msg === 'request failed')).toEqual([]);
  });

  it('logs a thrown error once at level error with its stack', async () => {
    const res = await service.fetch('/boom', { headers: { 'x-request-id': 'boom-1' } });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: 'Internal server error' });
    await service.waitForLog((l) => l.request_id === 'boom-1' && l.msg === 'request completed');
    const failures = service.logs().filter((l) => l.request_id === 'boom-1' && l.level === 'error' && l.err);
    expect(failures).toHaveLength(1);
    expect(failures[0]?.msg).toBe('request failed');
    expect((failures[0]?.err as { stack?: string } | undefined)?.stack).toContain('fixture boom');
  });

  it('observes app.inject() requests too: request id echoed, route labelled, one line', async () => {
    const res = await service.fetch('/inject');
    expect(await res.json()).toEqual({ status: 200, requestId: 'injected-1' });
    const isCompletion = (l: { request_id?: unknown; msg?: string }) =>
      l.request_id === 'injected-1' && (l.msg === 'request completed' || l.msg === 'request aborted');
    const line = await service.waitForLog(isCompletion);
    expect(line['http.route']).toBe(TEMPLATE);
    expect(line['http.response.status_code']).toBe(200);
    // a response not on a socket never "finishes": core decides completion from what it did (ended)
    expect(line).toMatchObject({ msg: 'request completed', level: 'info' });
    // The outer request answered after the injected one ended; once a later request's line is out,
    // any second line of the injected request would be too.
    await service.fetch('/api/v1/tenants/t/users/1', { headers: { 'x-request-id': 'after-inject' } });
    await service.waitForLog((l) => l.request_id === 'after-inject' && l.msg === 'request completed');
    expect(service.logs().filter(isCompletion)).toHaveLength(1);
    // the handler's own line carries the request id too
    expect(service.logs().some((l) => l.request_id === 'injected-1' && l.msg === 'looking up user')).toBe(true);
  });

  it("measures a streamed response's whole duration", async () => {
    const res = await service.fetch('/stream', { headers: { 'x-request-id': 'stream-1' } });
    expect(await res.text()).toContain('chunk 4');
    const line = await service.waitForLog((l) => l.request_id === 'stream-1' && l.msg === 'request completed');
    expect(line.duration_ms as number).toBeGreaterThanOrEqual(250);
    const [span] = await receiver.waitForSpans((s) => s.kind === SERVER && s.traceId === line.trace_id);
    expect(span?.durationMs).toBeGreaterThanOrEqual(250);
  });

  it('writes no line with duplicate keys', async () => {
    const lines = jsonLines(service.stdout());
    expect(lines.length).toBeGreaterThan(10);
    for (const raw of lines) expect(duplicateKeys(raw), raw).toEqual([]);
  });
});

describe('the plugin in other set-ups', () => {
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
  /** The fixture app under the preload with `env`. */
  const startFixture = (env: Record<string, string>) => startService({ cwd: FIXTURES, entry: 'app.mjs', env });

  it('labels routes and keeps request ids without @fastify/otel (the default)', async () => {
    service = await startFixture({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '100' });
    await service.fetch('/api/v1/tenants/t/users/1', { headers: { 'x-request-id': 'plain-get' } });
    // A body that arrives in pieces: its chunks are read in events outside the request's context.
    const body = JSON.stringify({ user: { email: 'a@b.c' }, pad: 'x'.repeat(2000) });
    const stream = new ReadableStream<Uint8Array>({
      async start(controller) {
        for (let i = 0; i < body.length; i += 500) {
          controller.enqueue(new TextEncoder().encode(body.slice(i, i + 500)));
          await new Promise((r) => setTimeout(r, 30)); // a slow client: the next piece later
        }
        controller.close();
      },
    });
    const posted = await service.fetch('/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'plain-post' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(posted.status).toBe(200);
    const lookup = await service.waitForLog((l) => l.msg === 'looking up user');
    expect(lookup.request_id).toBe('plain-get');
    const echoed = await service.waitForLog((l) => l.msg === 'echo');
    expect(echoed.request_id).toBe('plain-post');
    const [span] = await receiver.waitForSpans((s) => s.kind === SERVER && s.traceId === lookup.trace_id);
    expect(span?.attributes['http.route']).toBe(TEMPLATE);
    expect(span?.name).toBe(`GET ${TEMPLATE}`);
    await receiver.waitForSpans((s) => s.kind === SERVER && s.traceId === echoed.trace_id);
    expect(receiver.spans.filter((s) => s.scope.name === '@fastify/otel')).toEqual([]);
    const metrics = await (await service.fetch('/metrics')).text();
    expect(metrics).toContain(`http_route="${TEMPLATE}"`);
  });

  it('with @fastify/otel enabled: its spans are INTERNAL under the one SERVER span, request ids reach handlers', async () => {
    service = await startFixture({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,fastify,pino',
    });
    const res = await service.fetch('/api/v1/tenants/acme/users/42', { headers: { 'x-request-id': 'with-otel-1' } });
    expect(res.status).toBe(200);
    const lookup = await service.waitForLog((l) => l.msg === 'looking up user' && l.request_id === 'with-otel-1');
    const line = await service.waitForLog((l) => l.msg === 'request completed' && l.request_id === 'with-otel-1');
    expect(line['http.route']).toBe(TEMPLATE);
    const [server] = await receiver.waitForSpans((s) => s.kind === SERVER && s.traceId === line.trace_id);
    expect(server?.attributes['http.route']).toBe(TEMPLATE);
    expect(line.span_id).toBe(server?.spanId);
    const [request] = await receiver.waitForSpans(
      (s) => s.scope.name === '@fastify/otel' && s.name === 'request' && s.traceId === line.trace_id,
    );
    expect(request?.kind).toBe(INTERNAL);
    expect(request?.parentSpanId).toBe(server?.spanId);
    // the handler runs inside @fastify/otel's request span: its line carries that span
    expect(lookup.trace_id).toBe(line.trace_id);
    expect(lookup.span_id).toBe(request?.spanId);
    // Spans are exported in the order they end: once a later request's SERVER span is in, any second
    // SERVER span of this trace would be too.
    await service.fetch('/api/v1/tenants/acme/users/43', { headers: { 'x-request-id': 'with-otel-2' } });
    const later = await service.waitForLog((l) => l.msg === 'request completed' && l.request_id === 'with-otel-2');
    await receiver.waitForSpans((s) => s.kind === SERVER && s.traceId === later.trace_id);
    expect(receiver.spans.filter((s) => s.kind === SERVER && s.traceId === line.trace_id)).toHaveLength(1);
  });

  it('gives the probes no @fastify/otel span when the http instrumentation is disabled', async () => {
    service = await startFixture({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'fastify,pino',
    });
    for (const path of ['/health/live', '/health/ready', '/metrics']) {
      expect((await service.fetch(path)).status).toBe(200);
    }
    // Without the http instrumentation, @fastify/otel's request span is the SERVER span.
    await service.fetch('/own-logger');
    const [server] = await receiver.waitForSpans((s) => s.scope.name === '@fastify/otel' && s.kind === SERVER);
    expect(server?.attributes['http.route']).toBe('/own-logger');
    // spans are exported in the order they end: a span of an earlier probe would be in by now
    expect(receiver.spans.filter((s) => /health|metrics/.test(String(s.attributes['url.path'])))).toEqual([]);
    expect(receiver.spans.filter((s) => s.kind === SERVER)).toHaveLength(1);
  });

  it('still observes an app created without obsFastifyOptions(), and says what is missing once', async () => {
    service = await startFixture({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, FIXTURE_MODE: 'plain' });
    const res = await service.fetch('/api/v1/tenants/t/users/1', { headers: { 'x-request-id': 'no-options-1' } });
    expect(res.headers.get('x-request-id')).toBe('no-options-1');
    const line = await service.waitForLog((l) => l.request_id === 'no-options-1' && l.msg === 'request completed');
    expect(line['http.route'], JSON.stringify(service.logs().filter((l) => l.request_id === 'injected-1'))).toBe(
      TEMPLATE,
    );
    await service.fetch('/api/v1/tenants/t/users/2');
    await service.waitForLog((l) => l['url.path'] === '/api/v1/tenants/t/users/2');
    const warnings = service.logs().filter((l) => String(l.msg).includes('obsFastifyOptions()'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.level).toBe('warn');
  });

  it('serves the probes on custom paths and no metrics route when metricsPath is false', async () => {
    service = await startService({
      cwd: FIXTURES,
      entry: 'app.mjs',
      readyPath: '/readyz',
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '100', FIXTURE_MODE: 'paths' },
    });
    const live = await service.fetch('/livez');
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: 'ok', checks: {} });
    expect((await service.fetch('/health/live')).status).toBe(404);
    const metrics = await service.fetch('/metrics', { headers: { 'x-request-id': 'no-metrics' } });
    expect(metrics.status).toBe(404);
    expect(await metrics.json()).toEqual({ error: 'Not found' });
    // /metrics is an ordinary unmatched path now: logged without a route
    const line = await service.waitForLog((l) => l.request_id === 'no-metrics');
    expect(line).not.toHaveProperty('http.route');
    expect(service.logs().filter((l) => l['url.path'] === '/livez' || l['url.path'] === '/readyz')).toEqual([]);
  });

  it('keeps serving with OTEL_SDK_DISABLED=true: request ids and routes in the lines, nothing exported', async () => {
    service = await startFixture({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_SDK_DISABLED: 'true',
      OTEL_BSP_SCHEDULE_DELAY: '50',
    });
    await service.fetch('/echo', echo({ 'x-request-id': 'disabled-1' }));
    const echoed = await service.waitForLog((l) => l.msg === 'echo');
    expect(echoed.request_id).toBe('disabled-1');
    expect(echoed.trace_id).toBeUndefined();
    const line = await service.waitForLog((l) => l.request_id === 'disabled-1' && l.msg === 'request completed');
    expect(line['http.route']).toBe('/echo');
    expect(await (await service.fetch('/metrics')).text()).toContain('telemetry is disabled');
    // once the process has ended by SIGTERM (which flushes whatever a pipeline holds), nothing came
    expect((await service.stop('SIGTERM')).signal).toBe('SIGTERM');
    expect(receiver.requests).toHaveLength(0);
  });

  it("lets the app's own SIGTERM handler close Fastify and decide the exit, and still flushes", async () => {
    service = await startFixture({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: '60000',
      APP_SIGTERM_HANDLER: '1',
    });
    await service.fetch('/api/v1/tenants/t/users/1');
    const exit = await service.stop('SIGTERM');
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(service.logs().some((l) => l.msg === 'app SIGTERM handler ran')).toBe(true);
    expect(receiver.spans.filter((s) => s.kind === SERVER)).toHaveLength(1);
  });
});

describe('duplicateKeys', () => {
  it('finds duplicate keys at any depth, and none in clean JSON', () => {
    expect(duplicateKeys('{"a":1,"b":{"c":2,"c":"x\\"y"},"a":[{"d":1,"d":2}]}')).toEqual(['b.c', 'a', 'a.[].d']);
    expect(duplicateKeys('{"a":"{\\"a\\":1}","b":[1,"a",{"a":null}],"c":{}}')).toEqual([]);
  });
});

describe('start-up', () => {
  it('loads @fastify/otel only when enabled, and then only once the app creates a Fastify instance', async () => {
    const loaded = async (script: string, env: Record<string, string> = {}) => {
      const { stdout } = await runNode(['--import', '@obs/register', '--input-type=module', '-e', script], {
        cwd: FIXTURES,
        env: { OTEL_TRACES_EXPORTER: 'none', ...env },
      });
      return stdout.split('\n').find((l) => l === 'true' || l === 'false');
    };
    const probe = `import { createRequire } from 'node:module';
      const isLoaded = () => Object.keys(createRequire(import.meta.url).cache).some((f) => f.includes('@fastify/otel'));`;
    const withInstance = `${probe} const { default: Fastify } = await import('fastify'); Fastify(); console.log(isLoaded());`;
    expect(await loaded(withInstance)).toBe('false');
    const enabled = { OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,fastify' };
    expect(await loaded(`${probe} console.log(isLoaded());`, enabled)).toBe('false');
    expect(await loaded(withInstance, enabled)).toBe('true');
  });
});
