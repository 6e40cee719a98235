/**
 * An app that keeps its own Fastify `logger` options, moved into `obsFastifyOptions({ logger })`, and
 * its own global hooks, run as users run it (`node --import @obs/register`): the options shape the
 * @obs logger, what cannot be combined is named in one warning, and probes skip the app's hooks.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
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
      await new Promise((r) => setTimeout(r, 50)); // paces the poll
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

describe("the app's own `logger` option next to `...obsFastifyOptions()`", () => {
  const options = JSON.stringify({ level: 'debug', redact: ['user.email'] });

  for (const entry of ['logger-next-to-spread.mjs', 'logger-next-to-spread.cjs']) {
    it(`starts, and its level and redact paths apply to the @obs lines (${entry})`, async () => {
      service = await startService({
        cwd: FIXTURES,
        entry,
        env: { OTEL_SDK_DISABLED: 'true', LOGGER_OPTIONS: options },
      });
      expect((await service.fetch('/hello', { headers: { 'x-request-id': 'next-1' } })).status).toBe(200);
      const debug = await service.waitForLog((l) => l.msg === 'debug line');
      expect(debug).toMatchObject({ level: 'debug', request_id: 'next-1', user: { name: 'ada', email: '[Redacted]' } });
      await service.waitForLog((l) => l.msg === 'request completed' && l.request_id === 'next-1');
      expect(service.stdout()).not.toContain('ada@example.com');
      expect(service.stderr()).not.toContain('FST_ERR');
      expect(service.logs().filter((l) => l.level === 'warn')).toEqual([]);
    });
  }

  it('works with the spread after it too', async () => {
    service = await startService({
      cwd: FIXTURES,
      entry: 'logger-next-to-spread.mjs',
      env: { OTEL_SDK_DISABLED: 'true', LOGGER_OPTIONS: options, ORDER: 'before' },
    });
    await service.fetch('/hello', { headers: { 'x-request-id': 'next-2' } });
    const debug = await service.waitForLog((l) => l.msg === 'debug line');
    expect(debug).toMatchObject({ request_id: 'next-2', user: { email: '[Redacted]' } });
  });

  it('names what cannot be combined in the same warning as obsFastifyOptions({ logger })', async () => {
    service = await startService({
      cwd: FIXTURES,
      entry: 'logger-next-to-spread.cjs',
      env: { OTEL_SDK_DISABLED: 'true', LOGGER_OPTIONS: JSON.stringify({ level: 'info', messageKey: 'message' }) },
    });
    const warning = await service.waitForLog((l) => l['obs.logger_options_ignored'] !== undefined);
    expect(warning).toMatchObject({ level: 'warn', 'obs.logger_options_ignored': ['messageKey'] });
    expect(String(warning.msg)).toMatch(/^@obs\/fastify: logger messageKey cannot be combined/);
    expect((await service.fetch('/hello')).status).toBe(200);
  });

  const crash = async (preload: string[], env: Record<string, string>) => {
    const child = spawn(process.execPath, [...preload, 'logger-next-to-spread.mjs'], {
      cwd: FIXTURES,
      env: { ...process.env, NODE_OPTIONS: '', PORT: '0', OTEL_SDK_DISABLED: 'true', LOGGER_OPTIONS: options, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const [code] = (await once(child, 'close')) as [number | null];
    return { code, stderr };
  };

  it("without the preload, is Fastify's own error, as Fastify has it", async () => {
    const { code, stderr } = await crash([], {});
    expect(code).toBe(1);
    expect(stderr).toContain('FST_ERR_LOG_LOGGER_AND_LOGGER_INSTANCE_PROVIDED');
  });

  it("next to a loggerInstance of the app's own, is Fastify's own error under the preload too", async () => {
    const { code, stderr } = await crash(['--import', '@obs/register'], { OWN_INSTANCE: '1' });
    expect(code).toBe(1);
    expect(stderr).toContain('FST_ERR_LOG_LOGGER_AND_LOGGER_INSTANCE_PROVIDED');
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
