/**
 * An app that keeps its own Fastify `logger` options, moved into `obsFastifyOptions({ logger })`, and
 * its own global hooks, run as users run it (`node --import @obs/register`): the options shape the
 * @obs logger, what cannot be combined is named in one warning, and probes skip the app's hooks.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Service, startService } from '@obs/testkit';
import { afterEach, describe, expect, it } from 'vitest';

const FIXTURES = fileURLToPath(new URL('./fixtures', import.meta.url));

let service: Service | undefined;
afterEach(async () => {
  await service?.stop('SIGKILL');
  service = undefined;
});

const start = (env: Record<string, string>) =>
  startService({ cwd: FIXTURES, entry: 'logger-option.mjs', env: { OTEL_SDK_DISABLED: 'true', ...env } });

describe('obsFastifyOptions({ logger })', () => {
  it("applies the app's level, redact paths and serializers to request.log, and keeps @obs's lines", async () => {
    service = await start({
      LOGGER_OPTIONS: JSON.stringify({ level: 'debug', redact: ['user.email'], serializers: 'user' }),
    });
    const res = await service.fetch('/hello', { headers: { 'x-request-id': 'logger-1' } });
    expect(res.status).toBe(200);
    const debug = await service.waitForLog((l) => l.msg === 'debug line');
    expect(debug).toMatchObject({
      level: 'debug',
      request_id: 'logger-1',
      user: { name: 'ada', email: '[Redacted]', serialized: true },
    });
    await service.waitForLog((l) => l.msg === 'request completed' && l.request_id === 'logger-1');
    expect(service.stdout()).not.toContain('ada@example.com');
    expect(service.logs().filter((l) => l.level === 'warn')).toEqual([]);
  });

  it('sends every @obs line through the transport, completion lines included', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'obs-fastify-')), 'lines.ndjson');
    service = await start({ LOGGER_OPTIONS: '{}', TRANSPORT_FILE: file });
    await service.fetch('/hello', { headers: { 'x-request-id': 'logger-2' } });
    const deadline = Date.now() + 10_000;
    let lines: Record<string, unknown>[] = [];
    while (Date.now() < deadline) {
      lines = readLines(file);
      if (lines.some((l) => l.msg === 'request completed' && l.request_id === 'logger-2')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(lines.find((l) => l.msg === 'info line')).toMatchObject({ request_id: 'logger-2', level: 'info' });
    expect(lines.find((l) => l.msg === 'request completed')).toMatchObject({ 'http.route': '/hello' });
    expect(service.logs().filter((l) => l.msg === 'request completed')).toEqual([]);
  });

  it('names what cannot be combined in one warning, and serves on', async () => {
    service = await start({ LOGGER_OPTIONS: JSON.stringify({ level: 'info', messageKey: 'message', base: null }) });
    const warning = await service.waitForLog((l) => l['obs.logger_options_ignored'] !== undefined);
    expect(warning).toMatchObject({ level: 'warn', 'obs.logger_options_ignored': ['messageKey', 'base'] });
    expect(String(warning.msg)).toContain('cannot be combined');
    expect((await service.fetch('/hello')).status).toBe(200);
    expect(service.logs().filter((l) => l['obs.logger_options_ignored'] !== undefined)).toHaveLength(1);
  });
});

describe('probes on the app port', () => {
  it("are answered before the app's own hooks: no session cookie on a probe or a scrape", async () => {
    service = await start({});
    const app = await service.fetch('/hello');
    expect(app.headers.get('set-cookie')).toBe('session=abc; HttpOnly');
    for (const path of ['/health/ready', '/health/live', '/metrics']) {
      const res = await service.fetch(path);
      expect(res.status).toBe(200);
      expect(res.headers.get('set-cookie')).toBeNull();
      await res.text();
    }
    const head = await service.fetch('/health/ready', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('set-cookie')).toBeNull();
  });
});

function readLines(file: string): Record<string, unknown>[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
