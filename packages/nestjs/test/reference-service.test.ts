/**
 * The NestJS reference service (examples/nestjs) run as users run it, `node --import @obs/register
 * dist/main.js`, on platform-express and (NEST_PLATFORM=fastify) platform-fastify: the contract's
 * answers and log lines, and a SIGTERM with Nest's own shutdown hooks enabled. The conformance suite
 * (packages/conformance) runs the cross-framework scenarios on it as well.
 */
import { fileURLToPath } from 'node:url';
import {
  type OtlpReceiver,
  PROMPT_EXIT_MS,
  PROMPT_SHUTDOWN_ENV,
  type Service,
  startOtlpReceiver,
  startService,
} from '@obs/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const EXAMPLE = fileURLToPath(new URL('../../../examples/nestjs', import.meta.url));
const SERVER = 2;
const ERROR = 2;

const json = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

describe.each(['express', 'fastify'])('reference service on platform-%s', (platform) => {
  let receiver: OtlpReceiver;
  let service: Service;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    service = await startService({
      cwd: EXAMPLE,
      entry: 'dist/main.js',
      env: {
        NEST_PLATFORM: platform,
        OTEL_SERVICE_NAME: 'nestjs-reference',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_BSP_SCHEDULE_DELAY: '60000', // spans reach the receiver only through the SIGTERM flush
        ...PROMPT_SHUTDOWN_ENV,
      },
    });
  });
  afterAll(async () => {
    await service?.stop('SIGKILL');
    await receiver?.close();
  });

  it('answers with the bodies and statuses of the contract', async () => {
    const user = await service.fetch('/api/v1/users/7');
    expect(await user.json()).toEqual({ id: '7', name: 'User 7', email: 'user7@example.com' });
    const noUser = await service.fetch('/api/v1/users/1001');
    expect(noUser.status).toBe(404);
    expect(await noUser.json()).toEqual({ error: 'User not found' });
    const nowhere = await service.fetch('/api/v1/nowhere');
    expect(nowhere.status).toBe(404);
    expect(await nowhere.json()).toEqual({ error: 'Not found' });
    const badLogin = await service.fetch('/api/v1/auth/login', json({ email: 'ada@example.com', password: 'no' }));
    expect(badLogin.status).toBe(401);
    expect(await badLogin.json()).toEqual({ error: 'Invalid credentials' });
    const order = await service.fetch('/api/v1/orders', json({ amount: 42 }));
    expect(order.status).toBe(201);
    expect(await order.json()).toEqual({ id: expect.stringMatching(/^[0-9a-f]+$/), amount: 42, payment: 'captured' });
    const badAmount = await service.fetch('/api/v1/orders', json({ amount: '42' }));
    expect(badAmount.status).toBe(400);
    expect(await badAmount.json()).toEqual({ error: 'amount must be a positive number' });
    const malformed = await service.fetch('/api/v1/orders', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"amount": ',
    });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toEqual({ error: expect.any(String) });
    const slow = await service.fetch('/api/v1/slow?ms=-20');
    expect(await slow.json()).toEqual({ waited_ms: 0 });
    const live = await service.fetch('/health/live');
    expect(await live.json()).toEqual({ status: 'ok', checks: {} });
  });

  it('logs the handled declined payment once, and the unhandled /boom once as request failed', async () => {
    const declined = await service.fetch(
      '/api/v1/orders',
      json({ amount: 13 }, { 'x-request-id': `declined-${platform}` }),
    );
    expect(declined.status).toBe(500);
    expect(await declined.json()).toEqual({ error: 'Failed to create order' });
    await service.waitForLog((l) => l.request_id === `declined-${platform}` && l.msg === 'request completed');
    const declinedErrors = service.logs().filter((l) => l.request_id === `declined-${platform}` && l.err);
    expect(declinedErrors.map((l) => [l.level, l.msg, l.context])).toEqual([
      ['error', 'Failed to create order', 'OrdersController'],
    ]);
    expect((declinedErrors[0]?.err as { type?: string } | undefined)?.type).toBe('PaymentDeclinedError');

    const boom = await service.fetch('/api/v1/boom', { headers: { 'x-request-id': `boom-${platform}` } });
    expect(boom.status).toBe(500);
    expect(await boom.json()).toEqual({ error: 'Internal server error' });
    await service.waitForLog((l) => l.request_id === `boom-${platform}` && l.msg === 'request completed');
    const boomErrors = service.logs().filter((l) => l.request_id === `boom-${platform}` && l.err);
    expect(boomErrors.map((l) => [l.level, l.msg])).toEqual([['error', 'request failed']]);
    expect((boomErrors[0]?.err as { stack?: string } | undefined)?.stack).toMatch(/boom: the handler failed\n\s+at /);
  });

  it("logs logins through Nest's Logger with the email, never the password or the token", async () => {
    const ok = await service.fetch(
      '/api/v1/auth/login',
      json(
        { email: 'ada@example.com', password: 'correct horse battery staple' },
        { 'x-request-id': `login-${platform}` },
      ),
    );
    expect(ok.status).toBe(200);
    const { token } = (await ok.json()) as { token: string };
    const lines = await service
      .waitForLog((l) => l.request_id === `login-${platform}` && l.msg === 'request completed')
      .then(() => service.logs().filter((l) => l.request_id === `login-${platform}`));
    expect(lines.map((l) => [l.level, l.msg, l.email, l.context])).toEqual([
      ['info', 'Login attempt', 'ada@example.com', 'AuthController'],
      ['info', 'Login successful', 'ada@example.com', 'AuthController'],
      ['info', 'request completed', undefined, undefined],
    ]);
    expect(service.stdout()).not.toContain('correct horse battery staple');
    expect(service.stdout()).not.toContain(token);
  });

  it("exits by SIGTERM through Nest's shutdown hooks, promptly, after flushing every span", async () => {
    // nothing exported yet: the batch delay is a minute
    expect(receiver.spans.filter((s) => s.kind === SERVER)).toHaveLength(0);
    const exit = await service.stop('SIGTERM');
    expect(exit.signal).toBe('SIGTERM');
    // promptly: long before the 30 s drain timeout and shutdown budget
    expect(exit.elapsedMs).toBeLessThan(PROMPT_EXIT_MS);
    // one per request the tests above made (the probes and the scrape have none)
    const servers = receiver.spans.filter((s) => s.kind === SERVER);
    expect(servers).toHaveLength(11);
    const boom = servers.find((s) => s.attributes['http.route'] === '/api/v1/boom');
    expect(boom?.status.code).toBe(ERROR);
    expect(servers.filter((s) => s.attributes['url.path'] === '/health/live')).toEqual([]);
    const payment = receiver.spans.find((s) => s.name === 'process_payment' && s.attributes['payment.amount'] === 13);
    expect(payment?.status.code).toBe(ERROR);
  });
});
