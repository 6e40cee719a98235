/**
 * The Express reference service (examples/express) run as users run it, `node --import
 * @obs/register src/server.js`, exporting over OTLP/HTTP (protobuf, the default) to an embedded
 * receiver.
 */
import { fileURLToPath } from 'node:url';
import { type OtlpReceiver, type Service, startOtlpReceiver, startService } from '@obs/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const EXAMPLE = fileURLToPath(new URL('../../../examples/express', import.meta.url));
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

let receiver: OtlpReceiver;
let service: Service;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  service = await startService({
    cwd: EXAMPLE,
    entry: 'src/server.js',
    env: {
      OTEL_SERVICE_NAME: 'express-reference',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: '100',
    },
  });
});

afterAll(async () => {
  await service?.stop('SIGKILL');
  await receiver?.close();
});

const json = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

describe('express reference service', () => {
  it('serves the user route and puts the incoming trace id on logs and spans', async () => {
    const res = await service.fetch('/api/v1/users/7', {
      headers: { traceparent: `00-${TRACE_ID}-${PARENT}-01`, 'x-request-id': 'req-abc-123' },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: '7', name: 'User 7' });
    expect(res.headers.get('x-request-id')).toBe('req-abc-123');

    const line = await service.waitForLog((l) => l.msg === 'request completed' && l.request_id === 'req-abc-123');
    expect(line).toMatchObject({
      level: 'info',
      trace_id: TRACE_ID,
      'http.request.method': 'GET',
      'http.route': '/api/v1/users/:id',
      'url.path': '/api/v1/users/7',
      'http.response.status_code': 200,
      service: 'express-reference',
    });
    expect(typeof line.duration_ms).toBe('number');
    expect(line.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    const [server] = await receiver.waitForSpans((s) => s.traceId === TRACE_ID && s.kind === 2);
    expect(server?.parentSpanId).toBe(PARENT);
    expect(server?.attributes['http.route']).toBe('/api/v1/users/:id');
    expect(server?.name).toBe('GET /api/v1/users/:id');
    expect(server?.resource['service.name']).toBe('express-reference');
    expect(line.span_id).toBe(server?.spanId);
  });

  it('replaces a malformed request id with a generated one', async () => {
    const res = await service.fetch('/api/v1/users/8', { headers: { 'x-request-id': 'bad id with spaces' } });
    const id = res.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    await service.waitForLog((l) => l.request_id === id && l.msg === 'request completed');
  });

  it('creates an order with a process_payment child span', async () => {
    const res = await service.fetch('/api/v1/orders', json({ amount: 42 }));
    expect(res.status).toBe(201);
    const child = (await receiver.waitForSpans((s) => s.name === 'process_payment' && s.status.code !== 2))[0];
    const parent = receiver.spans.find((s) => s.spanId === child?.parentSpanId);
    expect(parent?.kind).toBe(2);
    expect(parent?.attributes['http.route']).toBe('/api/v1/orders');
  });

  it('records a declined payment as an ERROR child span with the exception, and answers 500', async () => {
    const res = await service.fetch('/api/v1/orders', json({ amount: 13 }));
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: 'Failed to create order' });
    const [child] = await receiver.waitForSpans((s) => s.name === 'process_payment' && s.status.code === 2);
    expect(
      child?.events.some((e) => e.name === 'exception' && e.attributes['exception.type'] === 'PaymentDeclinedError'),
    ).toBe(true);
    const err = await service.waitForLog((l) => l.msg === 'Failed to create order');
    expect(err.level).toBe('error');
    expect(err.trace_id).toBe(child?.traceId);
  });

  it('rejects bad order amounts with 400', async () => {
    expect((await service.fetch('/api/v1/orders', json({ amount: -5 }))).status).toBe(400);
    expect((await service.fetch('/api/v1/orders', json({}))).status).toBe(400);
  });

  it('answers a thrown error with a JSON 500, logs it with its stack and marks the span', async () => {
    const res = await service.fetch('/api/v1/boom');
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: 'Internal server error' });
    const line = await service.waitForLog((l) => l.msg === 'request failed');
    expect(line.level).toBe('error');
    const err = line.err as { stack?: string; message?: string };
    expect(err.message).toContain('boom');
    expect(err.stack).toContain('app.js');
    const [span] = await receiver.waitForSpans((s) => s.traceId === line.trace_id && s.kind === 2);
    expect(span?.status.code).toBe(2);
    expect(span?.events.some((e) => e.name === 'exception')).toBe(true);
  });

  it('answers malformed JSON with 400 JSON and unknown paths with 404 JSON', async () => {
    const bad = await service.fetch('/api/v1/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"email": ',
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toHaveProperty('error');
    const missing = await service.fetch('/nope/never');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'Not found' });
    const noUser = await service.fetch('/api/v1/users/5000');
    expect(noUser.status).toBe(404);
    // unmatched under a router's mount path: no route at all, rather than the mount path
    const nowhere = await service.fetch('/api/v1/nowhere', { headers: { 'x-request-id': 'nowhere-1' } });
    expect(nowhere.status).toBe(404);
    const line = await service.waitForLog((l) => l.request_id === 'nowhere-1');
    expect(line['http.route']).toBeUndefined();
    const [span] = await receiver.waitForSpans((s) => s.traceId === line.trace_id && s.kind === 2);
    expect(span?.attributes['http.route']).toBeUndefined();
    expect(span?.name).toBe('GET');
    expect(await (await service.fetch('/metrics')).text()).not.toContain('http_route="/api/v1"');
  });

  it('logs login attempts without the password or the token', async () => {
    const password = 'correct horse battery staple';
    const failed = await service.fetch('/api/v1/auth/login', json({ email: 'ada@example.com', password: 'nope-123' }));
    expect(failed.status).toBe(401);
    const ok = await service.fetch('/api/v1/auth/login', json({ email: 'ada@example.com', password }));
    expect(ok.status).toBe(200);
    const { token } = (await ok.json()) as { token: string };
    await service.waitForLog((l) => l.msg === 'Login successful');
    expect(service.logs().filter((l) => l.msg === 'Login failed')).toHaveLength(1);
    expect(service.logs().find((l) => l.msg === 'Login attempt')).toMatchObject({ email: 'ada@example.com' });
    expect(service.stdout()).not.toContain(password);
    expect(service.stdout()).not.toContain('nope-123');
    expect(service.stdout()).not.toContain(token);
  });

  it('labels http_server_request_duration with route templates and creates no per-path series for 404s', async () => {
    const before = await (await service.fetch('/metrics')).text();
    await Promise.all(
      Array.from({ length: 200 }, (_, i) => service.fetch(`/random/${i}-${Math.random().toString(36).slice(2)}`)),
    );
    const res = await service.fetch('/metrics');
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toMatch(
      /http_server_request_duration_bucket\{[^}]*http_route="\/api\/v1\/users\/:id"[^}]*le="0\.005"/,
    );
    expect(text).toContain('# UNIT http_server_request_duration s');
    expect(text).not.toMatch(/http_route="\/random/);
    const routes = (t: string) => new Set([...t.matchAll(/http_route="([^"]*)"/g)].map((m) => m[1]));
    expect([...routes(text)].filter((r) => !routes(before).has(r))).toEqual([]);
    expect(text).not.toContain('/metrics"');
    expect(text).toMatch(/nodejs_eventloop_utilization/);
    expect(text).toMatch(/process_memory_usage/);
    // the app's own counter, created with obs.metrics.counter('shop.orders.created')
    expect(text).toMatch(/^shop_orders_created_total\{[^}]*\} [1-9]/m);
  });

  it('answers the health probes', async () => {
    const live = await service.fetch('/health/live');
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: 'ok', checks: {} });
    const ready = await service.fetch('/health/ready');
    expect(ready.status).toBe(200);
  });
});
