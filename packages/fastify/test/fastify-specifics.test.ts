/**
 * Fastify-specific checks on the reference service (the shared contract is the conformance suite),
 * run as users run it, `node --import
 * @obs/register src/server.js`, exporting over OTLP/HTTP (protobuf, the default) to an embedded
 * receiver. `@fastify/otel` is opt-in and off here (test/apps.test.ts runs it enabled): the plugin alone
 * labels the one SERVER span with the route template.
 */
import { fileURLToPath } from 'node:url';
import { type OtlpReceiver, type ReceivedSpan, type Service, startOtlpReceiver, startService } from '@obs/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { duplicateKeys, jsonLines } from './json-keys.js';

const EXAMPLE = fileURLToPath(new URL('../../../examples/fastify', import.meta.url));
const SERVER = 2;

let receiver: OtlpReceiver;
let service: Service;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  service = await startService({
    cwd: EXAMPLE,
    entry: 'src/server.js',
    env: {
      OTEL_SERVICE_NAME: 'fastify-reference',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: '100',
    },
  });
});

afterAll(async () => {
  await service?.stop('SIGKILL');
  await receiver?.close();
});

const json = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

const hex = (n: number) => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join('');
const traceparent = () => {
  const traceId = hex(32);
  const parentId = hex(16);
  return { traceId, parentId, header: `00-${traceId}-${parentId}-01` };
};

/** The SERVER span of a trace, once it has arrived. */
async function serverSpanOf(traceId: string): Promise<ReceivedSpan> {
  const [server] = await receiver.waitForSpans((s) => s.traceId === traceId && s.kind === SERVER);
  if (!server) throw new Error(`no SERVER span for ${traceId}`);
  return server;
}

/**
 * The spans of a trace, once a later request's SERVER span has arrived: spans are exported in the
 * order they end, so any span of the trace (a second SERVER span included) would be in by then.
 */
async function traceOf(traceId: string): Promise<{ server: ReceivedSpan; spans: ReceivedSpan[] }> {
  const server = await serverSpanOf(traceId);
  const later = traceparent();
  expect((await service.fetch('/api/v1/users/1', { headers: { traceparent: later.header } })).status).toBe(200);
  await serverSpanOf(later.traceId);
  return { server, spans: receiver.spans.filter((s) => s.traceId === traceId) };
}

describe('fastify reference service', () => {
  it('continues the incoming trace with exactly one SERVER span labelled with the route template', async () => {
    const tp = traceparent();
    const res = await service.fetch('/api/v1/users/7', {
      headers: { traceparent: tp.header, 'x-request-id': 'req-abc-123' },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: '7', name: 'User 7', email: 'user7@example.com' });
    expect(res.headers.get('x-request-id')).toBe('req-abc-123');

    const line = await service.waitForLog((l) => l.msg === 'request completed' && l.request_id === 'req-abc-123');
    expect(line).toMatchObject({
      level: 'info',
      trace_id: tp.traceId,
      'http.request.method': 'GET',
      'http.route': '/api/v1/users/:id',
      'url.path': '/api/v1/users/7',
      'http.response.status_code': 200,
      service: 'fastify-reference',
    });
    expect(typeof line.duration_ms).toBe('number');
    expect(line.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    const { server, spans } = await traceOf(tp.traceId);
    expect(spans.filter((s) => s.kind === SERVER)).toHaveLength(1);
    expect(server.parentSpanId).toBe(tp.parentId);
    expect(server.name).toBe('GET /api/v1/users/:id');
    expect(server.attributes['http.route']).toBe('/api/v1/users/:id');
    expect(server.resource['service.name']).toBe('fastify-reference');
    // the completion line belongs to the SERVER span, not to a framework span under it
    expect(line.span_id).toBe(server.spanId);

    // @fastify/otel is opt-in (OTEL_NODE_ENABLED_INSTRUMENTATIONS): no framework spans by default
    expect(spans.filter((s) => s.scope.name === '@fastify/otel')).toEqual([]);
  });

  it('puts the trace id and the request id on the lines handlers write with request.log', async () => {
    const tp = traceparent();
    const res = await service.fetch(
      '/api/v1/auth/login',
      json({ email: 'ada@example.com', password: 'nope-1' }, { traceparent: tp.header, 'x-request-id': 'login-1' }),
    );
    expect(res.status).toBe(401);
    const attempt = await service.waitForLog((l) => l.msg === 'Login attempt' && l.trace_id === tp.traceId);
    expect(attempt).toMatchObject({ level: 'info', request_id: 'login-1', email: 'ada@example.com' });
    const failed = await service.waitForLog((l) => l.msg === 'Login failed' && l.trace_id === tp.traceId);
    expect(failed).toMatchObject({ level: 'warn', request_id: 'login-1' });
    const { server } = await traceOf(tp.traceId);
    // handlers run in the SERVER span's context (with @fastify/otel enabled, in its request span under it)
    expect(attempt.span_id).toBe(server.spanId);
  });

  it('answers the health probes and the scrape without logs, spans or series of their own', async () => {
    const tp = traceparent();
    const live = await service.fetch('/health/live', { headers: { traceparent: tp.header } });
    expect(live.status).toBe(200);
    expect(live.headers.get('content-type')).toContain('application/json');
    expect(await live.json()).toEqual({ status: 'ok', checks: {} });
    const ready = await service.fetch('/health/ready', { headers: { traceparent: tp.header } });
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ok', checks: {} });
    const metrics = await service.fetch('/metrics', { headers: { traceparent: tp.header } });
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('# TYPE http_server_request_duration histogram');
    // a later request's spans have arrived, so the probes' would have too
    const marker = traceparent();
    await service.fetch('/api/v1/users/3', { headers: { traceparent: marker.header } });
    await serverSpanOf(marker.traceId);
    expect(receiver.spans.filter((s) => s.traceId === tp.traceId)).toEqual([]);
    expect(
      service.logs().filter((l) => typeof l['url.path'] === 'string' && /health|metrics/.test(l['url.path'])),
    ).toEqual([]);
  });

  it('writes JSON lines without duplicate keys and without Fastify request bindings', async () => {
    await service.fetch('/api/v1/auth/login', json({ email: 'ada@example.com', password: 'x' }));
    await service.fetch('/api/v1/boom');
    await service.waitForLog((l) => l.msg === 'request failed');
    const lines = jsonLines(service.stdout());
    expect(lines.length).toBeGreaterThan(8);
    for (const raw of lines) expect(duplicateKeys(raw), raw).toEqual([]);
    for (const line of service.logs()) {
      expect(line).not.toHaveProperty('reqId');
      expect(line.msg).not.toBe('incoming request');
    }
    expect(service.stderr()).not.toMatch(/FSTDEP|FastifyDeprecation|FastifyWarning/);
  });
});
