/**
 * observe({ logger }): a Koa app's usual pino options (as given to koa-pino-logger) shape `ctx.log`,
 * run as users run it (`node --import @obs/register`).
 */
import { fileURLToPath } from 'node:url';
import { type Service, startService } from '@obs/testkit';
import { afterEach, describe, expect, it } from 'vitest';

const FIXTURES = fileURLToPath(new URL('./fixtures', import.meta.url));

let service: Service | undefined;
afterEach(async () => {
  await service?.stop('SIGKILL');
  service = undefined;
});

describe('observe({ logger })', () => {
  it("applies the app's level and redact paths to ctx.log and names what it leaves out once", async () => {
    service = await startService({
      cwd: FIXTURES,
      entry: 'logger-option.mjs',
      env: {
        OTEL_SDK_DISABLED: 'true',
        LOGGER_OPTIONS: JSON.stringify({ level: 'debug', redact: ['user.email'], customLevels: { audit: 35 } }),
      },
    });
    const res = await service.fetch('/hello', { headers: { 'x-request-id': 'koa-logger-1' } });
    expect(res.status).toBe(200);
    const line = await service.waitForLog((l) => l.msg === 'debug line');
    expect(line).toMatchObject({
      level: 'debug',
      request_id: 'koa-logger-1',
      user: { name: 'ada', email: '[Redacted]' },
    });
    await service.waitForLog((l) => l.msg === 'request completed' && l.request_id === 'koa-logger-1');
    const warnings = service.logs().filter((l) => l['obs.logger_options_ignored'] !== undefined);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 'warn', 'obs.logger_options_ignored': ['customLevels'] });
    expect(service.stdout()).not.toContain('ada@example.com');
  });
});
