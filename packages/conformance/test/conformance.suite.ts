/**
 * Black-box scenarios every reference service must pass, whatever its framework: the contract in
 * docs/reference-service.md plus what @obs promises on top of it (logs, metrics, traces, health,
 * request ids, redaction, shutdown). Each target runs as a real process under the preload, exporting
 * OTLP/HTTP to an embedded receiver.
 */
import {
  freePort,
  type OtlpReceiver,
  PROMPT_EXIT_MS,
  PROMPT_SHUTDOWN_ENV,
  type ReceivedSpan,
  rawRequest,
  type Service,
  startOtlpReceiver,
  startService,
} from '@obs/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshGet, openGet } from './requests.js';
import type { Target } from './targets.js';

const SERVER = 2;
const ERROR = 2;
const PASSWORD = 'correct horse battery staple';

const json = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

const traceparent = () => {
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join('');
  const traceId = hex(32);
  const parentId = hex(16);
  return { traceId, parentId, header: `00-${traceId}-${parentId}-01` };
};

/** Defines this suite for each of `targets` (a test file calls it with its share of TARGETS). */
export function describeConformance(targets: Target[]): void {
  describe.each(targets)('$name', (target) => {
    let receiver: OtlpReceiver;
    let service: Service;

    beforeAll(async () => {
      receiver = await startOtlpReceiver();
      service = await startService({
        cwd: target.cwd,
        entry: target.entry,
        env: {
          ...target.env,
          OTEL_SERVICE_NAME: `conformance-${target.name}`,
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
          OTEL_BSP_SCHEDULE_DELAY: '100',
        },
      });
    });

    afterAll(async () => {
      await service?.stop('SIGKILL');
      await receiver?.close();
    });

    const serverSpanOf = async (traceId: string): Promise<ReceivedSpan> => {
      const [span] = await receiver.waitForSpans((s) => s.traceId === traceId && s.kind === SERVER);
      if (!span) throw new Error(`no SERVER span for trace ${traceId}`);
      return span;
    };

    it('answers the health probes with JSON', async () => {
      for (const path of ['/health/live', '/health/ready']) {
        const res = await service.fetch(path);
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toContain('application/json');
        expect(await res.json()).toEqual({ status: 'ok', checks: {} });
      }
    });

    it('serves a user, continuing the incoming trace in logs and spans, with one SERVER span', async () => {
      const tp = traceparent();
      const res = await service.fetch('/api/v1/users/42', {
        headers: { traceparent: tp.header, 'x-request-id': `conf-${target.name}-1` },
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ id: '42', name: 'User 42', email: 'user42@example.com' });
      expect(res.headers.get('x-request-id')).toBe(`conf-${target.name}-1`);

      const line = await service.waitForLog(
        (l) => l.msg === 'request completed' && l.request_id === `conf-${target.name}-1`,
      );
      expect(line).toMatchObject({
        level: 'info',
        trace_id: tp.traceId,
        'http.request.method': 'GET',
        'http.route': '/api/v1/users/:id',
        'url.path': '/api/v1/users/42',
        'http.response.status_code': 200,
      });
      expect(line.duration_ms).toEqual(expect.any(Number));

      const server = await serverSpanOf(tp.traceId);
      expect(server.parentSpanId).toBe(tp.parentId);
      expect(server.name).toBe('GET /api/v1/users/:id');
      expect(server.attributes['http.route']).toBe('/api/v1/users/:id');
      expect(server.resource['service.name']).toBe(`conformance-${target.name}`);
      expect(line.span_id).toBe(server.spanId);
      // Spans are exported in the order they end: once a later request's span is in, any second
      // SERVER span of this trace would be too.
      const later = traceparent();
      await service.fetch('/api/v1/users/43', { headers: { traceparent: later.header } });
      await serverSpanOf(later.traceId);
      expect(receiver.spans.filter((s) => s.traceId === tp.traceId && s.kind === SERVER)).toHaveLength(1);
    });

    it('answers unknown users and unknown paths with JSON 404s', async () => {
      const user = await service.fetch('/api/v1/users/5000');
      expect(user.status).toBe(404);
      expect(await user.json()).toEqual({ error: 'User not found' });
      const path = await service.fetch('/no/such/path');
      expect(path.status).toBe(404);
      expect(await path.json()).toEqual({ error: 'Not found' });
    });

    it('generates a request id when the incoming one is malformed, and echoes it', async () => {
      const res = await service.fetch('/api/v1/users/1', { headers: { 'x-request-id': 'not ok"\n'.trim() } });
      const id = res.headers.get('x-request-id');
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      await service.waitForLog((l) => l.request_id === id && l.msg === 'request completed');
    });

    it('logs logins without the password or the token, and keeps header secrets out of every output', async () => {
      const headers = { Authorization: 'Bearer hdr-secret-auth-1', COOKIE: 'session=hdr-secret-cookie-2' };
      const failed = await service.fetch(
        '/api/v1/auth/login',
        json({ email: 'ada@example.com', password: 'wrong-pass-3' }, headers),
      );
      expect(failed.status).toBe(401);
      expect(await failed.json()).toEqual({ error: 'Invalid credentials' });
      const ok = await service.fetch(
        '/api/v1/auth/login',
        json({ email: 'ada@example.com', password: PASSWORD }, headers),
      );
      expect(ok.status).toBe(200);
      const { token } = (await ok.json()) as { token: string };
      expect(token).toMatch(/^[0-9a-f]+$/);

      const success = await service.waitForLog((l) => l.msg === 'Login successful');
      expect(success).toMatchObject({ level: 'info', email: 'ada@example.com' });
      expect(service.logs().find((l) => l.msg === 'Login failed')).toMatchObject({
        level: 'warn',
        email: 'ada@example.com',
      });
      expect(service.logs().some((l) => l.msg === 'Login attempt')).toBe(true);

      await receiver.waitForSpans((s) => s.kind === SERVER && s.attributes['http.route'] === '/api/v1/auth/login', 2);
      const everything = [
        service.stdout(),
        service.stderr(),
        JSON.stringify(receiver.spans, (_k, v) => (typeof v === 'bigint' ? String(v) : v)),
      ].join('\n');
      for (const secret of [PASSWORD, 'wrong-pass-3', token, 'hdr-secret-auth-1', 'hdr-secret-cookie-2']) {
        expect(everything).not.toContain(secret);
      }
    });

    it("adds the app's fields to the completion line, redacted like every field", async () => {
      const res = await service.fetch('/api/v1/users/42', {
        headers: { 'x-request-id': 'fields-1', 'x-tenant-id': 'acme', 'x-session-token': 'sess-secret-fields-4' },
      });
      expect(res.status).toBe(200);
      await res.text();
      const line = await service.waitForLog((l) => l.msg === 'request completed' && l.request_id === 'fields-1');
      expect(line).toMatchObject({
        'tenant.id': 'acme',
        session_token: '[Redacted]',
        'http.route': '/api/v1/users/:id',
        'http.response.status_code': 200,
      });
      // no header, no field; the standard fields are off unless OBS_HTTP_LOG_FIELDS names them
      await (await service.fetch('/api/v1/users/42', { headers: { 'x-request-id': 'fields-2' } })).text();
      const plain = await service.waitForLog((l) => l.msg === 'request completed' && l.request_id === 'fields-2');
      for (const key of ['tenant.id', 'session_token', 'user_agent.original', 'client.address', 'fields_failed']) {
        expect(plain).not.toHaveProperty([key]);
      }
      expect(service.stdout()).not.toContain('sess-secret-fields-4');
    });

    it('serves the probes and /metrics on the management port only, with none of the app in the way, until shutdown', async () => {
      const managementPort = await freePort();
      const own = await startService({
        cwd: target.cwd,
        entry: target.entry,
        readyPath: false,
        env: {
          ...target.env,
          OTEL_SERVICE_NAME: `conformance-${target.name}`,
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
          OBS_MANAGEMENT_PORT: String(managementPort),
          OBS_MANAGEMENT_ADDRESS: '127.0.0.1',
          OBS_HTTP_LOG_FIELDS: 'user_agent.original,client.address,http.response.body.size',
          OBS_SHUTDOWN_DELAY_MS: '3000',
        },
      });
      try {
        await own.waitForLog((l) => l.msg === 'management server listening' && l.port === managementPort, 15_000);
        // the app's own listening line (Fastify's is `Server listening at ...`)
        await own.waitForLog((l) => typeof l.msg === 'string' && /^(Server )?listening/.test(l.msg), 15_000);
        const management = (path: string, init?: RequestInit) =>
          fetch(`http://127.0.0.1:${managementPort}${path}`, init);
        for (const path of ['/health/live', '/health/ready', '/health/started']) {
          const res = await management(path);
          expect(res.status, path).toBe(200);
          expect(res.headers.get('content-type')).toContain('application/json');
          expect(await res.json()).toEqual({ status: 'ok', checks: {} });
        }
        // on the app's port they are unknown paths
        for (const path of ['/health/ready', '/metrics']) {
          const res = await own.fetch(path);
          expect(res.status, path).toBe(404);
          expect(await res.json()).toEqual({ error: 'Not found' });
        }
        // the app's requests carry the standard fields, and are measured on the management port's /metrics
        const res = await own.fetch('/api/v1/users/42', {
          headers: { 'x-request-id': 'mgmt-1', 'user-agent': 'conformance-agent/1.0' },
        });
        expect(res.status).toBe(200);
        const size = Number(res.headers.get('content-length'));
        await res.text();
        const line = await own.waitForLog((l) => l.msg === 'request completed' && l.request_id === 'mgmt-1');
        expect(line).toMatchObject({
          'user_agent.original': 'conformance-agent/1.0',
          'client.address': '127.0.0.1',
          'http.response.body.size': size,
        });
        expect(size).toBeGreaterThan(0);
        const metrics = await (await management('/metrics')).text();
        expect(metrics).toMatch(/http_server_request_duration_count\{[^}]*http_route="\/api\/v1\/users\/:id"/);
        expect(metrics).not.toMatch(/http_route="\/(health|metrics)/);
        // probes and scrapes, on either port, write no completion line
        const probeLines = own
          .logs()
          .filter((l) => typeof l['url.path'] === 'string' && /^\/(health|metrics)/.test(l['url.path'] as string));
        expect(probeLines).toEqual([]);
        // SIGTERM: readiness answers 503 on the management port during the shutdown delay, then the
        // process ends by the signal (the management server keeps nothing alive)
        const stopped = own.stop('SIGTERM');
        let ready = 200;
        while (ready === 200) ready = (await management('/health/ready')).status;
        expect(ready).toBe(503);
        expect(await stopped).toMatchObject({ signal: 'SIGTERM', code: null });
      } finally {
        await own.stop('SIGKILL');
      }
    });

    it('creates an order with a process_payment child span and counts it', async () => {
      const tp = traceparent();
      const res = await service.fetch('/api/v1/orders', json({ amount: 42 }, { traceparent: tp.header }));
      expect(res.status).toBe(201);
      expect(await res.json()).toMatchObject({ amount: 42, payment: 'captured', id: expect.any(String) });
      const server = await serverSpanOf(tp.traceId);
      expect(server.attributes['http.route']).toBe('/api/v1/orders');
      const [payment] = await receiver.waitForSpans((s) => s.traceId === tp.traceId && s.name === 'process_payment');
      expect(payment?.attributes['payment.amount']).toBe(42);
      // a direct child of the SERVER span, or of a framework span under it
      const ancestors = new Set<string>();
      let cursor = payment?.parentSpanId;
      while (cursor) {
        ancestors.add(cursor);
        cursor = receiver.spans.find((s) => s.spanId === cursor)?.parentSpanId;
      }
      expect(ancestors.has(server.spanId)).toBe(true);
      const metrics = await (await service.fetch('/metrics')).text();
      expect(metrics).toMatch(/^shop_orders_created_total\{[^}]*\} [1-9]/m);
    });

    it('rejects bad order amounts and malformed JSON with 400 JSON', async () => {
      for (const body of [{ amount: -5 }, { amount: 0 }, { amount: 'x' }, {}]) {
        const res = await service.fetch('/api/v1/orders', json(body));
        expect(res.status).toBe(400);
        expect(await res.json()).toEqual({ error: 'amount must be a positive number' });
      }
      const malformed = await service.fetch('/api/v1/orders', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"amount": ',
      });
      expect(malformed.status).toBe(400);
      expect(await malformed.json()).toEqual({ error: expect.any(String) });
    });

    it('records a declined payment: ERROR child span with the exception, error log, 500', async () => {
      const tp = traceparent();
      const res = await service.fetch('/api/v1/orders', json({ amount: 13 }, { traceparent: tp.header }));
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ error: 'Failed to create order' });
      const [payment] = await receiver.waitForSpans((s) => s.traceId === tp.traceId && s.name === 'process_payment');
      expect(payment?.status.code).toBe(ERROR);
      const exception = payment?.events.find((e) => e.name === 'exception');
      expect(exception?.attributes['exception.type']).toBe('PaymentDeclinedError');
      const line = await service.waitForLog((l) => l.msg === 'Failed to create order' && l.trace_id === tp.traceId);
      expect(line.level).toBe('error');
      expect((line.err as { stack?: string } | undefined)?.stack).toContain('PaymentDeclinedError');
      const server = await serverSpanOf(tp.traceId);
      expect(server.attributes['http.response.status_code']).toBe(500);
    });

    it('answers a thrown error with a JSON 500, logs it once with its stack and marks the SERVER span', async () => {
      const tp = traceparent();
      const res = await service.fetch('/api/v1/boom', { headers: { traceparent: tp.header } });
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ error: 'Internal server error' });
      const completed = await service.waitForLog((l) => l.msg === 'request completed' && l.trace_id === tp.traceId);
      expect(completed).toMatchObject({
        level: 'error',
        'http.route': '/api/v1/boom',
        'http.response.status_code': 500,
      });
      const errors = service.logs().filter((l) => l.trace_id === tp.traceId && l.level === 'error' && l.err);
      expect(errors).toHaveLength(1);
      expect((errors[0]?.err as { stack?: string } | undefined)?.stack).toContain('boom: the handler failed');
      const server = await serverSpanOf(tp.traceId);
      expect(server.status.code).toBe(ERROR);
    });

    it('labels http_server_request_duration by route template and creates no per-path series for 404s', async () => {
      await service.fetch('/api/v1/users/7');
      const before = await (await service.fetch('/metrics')).text();
      for (let batch = 0; batch < 10; batch++) {
        await Promise.all(
          Array.from({ length: 30 }, (_, i) =>
            service.fetch(`/random-${batch}-${i}/${Math.random().toString(36).slice(2)}`),
          ),
        );
      }
      await Promise.all(Array.from({ length: 20 }, (_, i) => service.fetch(`/api/v1/no-such-${i}`)));
      const res = await service.fetch('/metrics');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/plain');
      const text = await res.text();
      expect(text).toMatch(/http_server_request_duration_bucket\{[^}]*http_route="\/api\/v1\/users\/:id"/);
      expect(text).toContain('# TYPE http_server_request_duration histogram');
      const routes = (t: string) => new Set([...t.matchAll(/http_route="([^"]*)"/g)].map((m) => m[1]));
      const added = [...routes(text)].filter((r) => !routes(before).has(r));
      expect(added).toEqual([]);
      expect(text).not.toMatch(/http_route="\/(random|api\/v1\/no-such)/);
      expect(text).not.toMatch(/http_route="\/(health|metrics)/);
      const series = (t: string) =>
        t.split('\n').filter((l) => l.startsWith('http_server_request_duration_count')).length;
      // 404s share one unlabelled series per status code; they may add at most a couple
      expect(series(text) - series(before)).toBeLessThanOrEqual(2);
    });

    it("serves OpenMetrics with the request's trace as exemplar when the scraper asks for it, text 0.0.4 otherwise", async () => {
      const tp = traceparent();
      await (await service.fetch('/api/v1/users/3', { headers: { traceparent: tp.header } })).arrayBuffer();
      const server = await serverSpanOf(tp.traceId);
      const res = await service.fetch('/metrics', {
        // what Prometheus 2.x sends
        headers: {
          accept:
            'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
        },
      });
      expect(res.headers.get('content-type')).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
      const om = await res.text();
      expect(om.endsWith('\n# EOF\n')).toBe(true);
      expect(om).toContain(`# {trace_id="${tp.traceId}",span_id="${server.spanId}"}`);
      const text = await service.fetch('/metrics', { headers: { accept: 'text/plain' } });
      expect(text.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(await text.text()).not.toContain('# EOF');
    });

    it('measures a streamed response over its whole duration', async () => {
      const res = await service.fetch('/api/v1/stream', { headers: { 'x-request-id': `stream-${target.name}` } });
      expect(res.status).toBe(200);
      const lines = (await res.text())
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines).toEqual([0, 1, 2, 3, 4].map((chunk) => ({ chunk })));
      const line = await service.waitForLog(
        (l) => l.request_id === `stream-${target.name}` && l.msg === 'request completed',
      );
      expect(line.duration_ms as number).toBeGreaterThanOrEqual(190);
      expect(line['http.route']).toBe('/api/v1/stream');
      const [span] = await receiver.waitForSpans((s) => s.kind === SERVER && s.traceId === line.trace_id);
      expect(span?.durationMs).toBeGreaterThanOrEqual(190);
    });

    it('observes an in-process request made inside a request as its own: completed once, its route, the outer trace', async () => {
      const tp = traceparent();
      const outerId = `in-process-${target.name}`;
      const res = await service.fetch('/api/v1/in-process/users/7', {
        headers: { traceparent: tp.header, 'x-request-id': outerId },
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { status: number; requestId: string; user: unknown };
      expect(body).toMatchObject({ status: 200, user: { id: '7', name: 'User 7', email: 'user7@example.com' } });
      expect(body.requestId).toEqual(expect.any(String));
      expect(body.requestId).not.toBe(outerId);
      const isInner = (l: { request_id?: unknown; msg?: string }) =>
        l.request_id === body.requestId && (l.msg === 'request completed' || l.msg === 'request aborted');
      // completion is decided from what the response did (an inject() response never finishes on a socket)
      const inner = await service.waitForLog(isInner);
      expect(inner).toMatchObject({
        msg: 'request completed',
        level: 'info',
        'http.route': '/api/v1/users/:id',
        'url.path': '/api/v1/users/7',
        'http.response.status_code': 200,
        trace_id: tp.traceId, // its work is part of the outer request's trace
      });
      const outer = await service.waitForLog((l) => l.request_id === outerId && l.msg === 'request completed');
      expect(outer['http.route']).toBe('/api/v1/in-process/users/:id');
      // one SERVER span, the outer request's, with its own route (not the inner one's)
      const server = await serverSpanOf(tp.traceId);
      expect(server.attributes['http.route']).toBe('/api/v1/in-process/users/:id');
      // once a later request's line and span are out, any second line or span of these would be too
      const later = traceparent();
      await service.fetch('/api/v1/users/8', {
        headers: { traceparent: later.header, 'x-request-id': `${outerId}-after` },
      });
      await service.waitForLog((l) => l.request_id === `${outerId}-after` && l.msg === 'request completed');
      await serverSpanOf(later.traceId);
      expect(service.logs().filter(isInner)).toHaveLength(1);
      expect(service.logs().filter((l) => l.request_id === outerId && l.msg === 'request completed')).toHaveLength(1);
      expect(receiver.spans.filter((s) => s.traceId === tp.traceId && s.kind === SERVER)).toHaveLength(1);
    });

    it('records a client that aborts a slow request exactly once, as aborted', async () => {
      const id = `abort-${target.name}`;
      // long enough that the abort below comes while the handler waits, also on a busy machine
      const slow = '/api/v1/slow?ms=2000';
      const pending = openGet(service.port, slow, { 'x-request-id': id });
      await pending.sent;
      // a request on a later connection answered: the service has read the slow one and routed it
      expect(await freshGet(service.port, '/health/live')).toBe(200);
      expect(pending.settled()).toBe(false);
      pending.abort();
      expect(await pending.outcome).toEqual({ error: 'ECONNRESET' });
      const line = await service.waitForLog((l) => l.request_id === id);
      expect(line).toMatchObject({ msg: 'request aborted', aborted: true, level: 'warn' });
      expect(line['http.route']).toBe('/api/v1/slow');
      // the server span ends when the connection closes, before the handler is done: the route is on it
      const [span] = await receiver.waitForSpans((s) => s.kind === SERVER && s.traceId === line.trace_id);
      expect(span?.attributes['http.route']).toBe('/api/v1/slow');
      // The aborted handler still runs to its end (its timer). A request sent now, waiting as long,
      // finishes after it: once its line is out, any second line of the aborted request would be too.
      const after = `${id}-after`;
      await service.fetch(slow, { headers: { 'x-request-id': after } });
      await service.waitForLog((l) => l.request_id === after && l.msg === 'request completed');
      expect(service.logs().filter((l) => l.request_id === id)).toHaveLength(1);
    });

    it('keeps userinfo and fragments out of url.path, and routes absolute-form targets', async () => {
      const absolute = traceparent();
      const res = await rawRequest(service.port, 'http://alice:userinfo-s3cret@example.test/api/v1/users/3', {
        headers: { traceparent: absolute.header, 'x-request-id': `absolute-${target.name}` },
      });
      expect(res.status).toBe(200);
      const line = await service.waitForLog(
        (l) => l.request_id === `absolute-${target.name}` && l.msg === 'request completed',
      );
      expect(line['url.path']).toBe('/api/v1/users/3');
      expect(line['http.route']).toBe('/api/v1/users/:id');
      const span = await serverSpanOf(absolute.traceId);
      expect(span.attributes['url.path']).toBe('/api/v1/users/3');
      expect(span.attributes['http.route']).toBe('/api/v1/users/:id');

      const fragment = traceparent();
      await rawRequest(service.port, '/api/v1/users/4?page=1#access_token=fragment-secret', {
        headers: { traceparent: fragment.header, 'x-request-id': `fragment-${target.name}` },
      });
      const fragmentLine = await service.waitForLog(
        (l) => l.request_id === `fragment-${target.name}` && l.msg === 'request completed',
      );
      expect(fragmentLine['url.path']).toBe('/api/v1/users/4');
      const fragmentSpan = await serverSpanOf(fragment.traceId);
      expect(fragmentSpan.attributes['url.path']).toBe('/api/v1/users/4');
      expect(fragmentSpan.attributes['url.query']).toBe('page=1');
      const everything = JSON.stringify([service.logs(), receiver.spans], (_k, v) =>
        typeof v === 'bigint' ? String(v) : v,
      );
      expect(everything).not.toContain('userinfo-s3cret');
      expect(everything).not.toContain('fragment-secret');
    });

    it('names the SERVER span HTTP for a method outside the semantic conventions, and labels it _OTHER', async () => {
      const tp = traceparent();
      const res = await rawRequest(service.port, '/api/v1/users/5', {
        method: 'PURGE',
        headers: { traceparent: tp.header },
      });
      expect(res.status).toBeGreaterThanOrEqual(400);
      const span = await serverSpanOf(tp.traceId);
      expect(span.name).toBe('HTTP');
      expect(span.attributes['http.request.method']).toBe('_OTHER');
      expect(span.attributes['http.request.method_original']).toBe('PURGE');
      const metrics = await (await service.fetch('/metrics')).text();
      expect(metrics).toMatch(/http_server_request_duration_count\{[^}]*http_request_method="_OTHER"/);
      expect(metrics).not.toContain('PURGE');
    });

    it('flushes the last spans on SIGTERM and ends by that signal, promptly', async () => {
      // Its own process: batches would only be exported after a minute, so only the shutdown flush can deliver them.
      const own = await startService({
        cwd: target.cwd,
        entry: target.entry,
        env: {
          ...target.env,
          OTEL_SERVICE_NAME: `conformance-${target.name}`,
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
          OTEL_BSP_SCHEDULE_DELAY: '60000',
          ...PROMPT_SHUTDOWN_ENV,
        },
      });
      try {
        const traces = [traceparent(), traceparent()];
        for (const tp of traces) {
          expect((await own.fetch('/api/v1/users/9', { headers: { traceparent: tp.header } })).status).toBe(200);
        }
        const exported = (tp: { traceId: string }) =>
          receiver.spans.filter((s) => s.traceId === tp.traceId && s.kind === SERVER);
        expect(traces.map((tp) => exported(tp).length)).toEqual([0, 0]);
        const exit = await own.stop('SIGTERM');
        // promptly: long before the 30 s drain timeout and shutdown budget
        expect(exit.elapsedMs).toBeLessThan(PROMPT_EXIT_MS);
        expect(exit).toMatchObject({ signal: 'SIGTERM', code: null });
        expect(traces.map((tp) => exported(tp).length)).toEqual([1, 1]);
      } finally {
        await own.stop('SIGKILL');
      }
    });
  });
}
