/**
 * Packs @obs/core, @obs/register and @obs/fastify with `pnpm pack`, installs the tarballs into a fresh
 * Fastify app outside the workspace and runs it with `node --import @obs/register`, so broken
 * `exports` maps, missing files or undeclared dependencies (fastify-plugin) fail here rather than for
 * users.
 */
import { PACKED_APP_TIMEOUT_MS, type PackedService, startPackedApp } from '@obs/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';

let packed: PackedService;

beforeAll(async () => {
  packed = await startPackedApp({
    entry: 'app.mjs',
    packages: ['core', 'register', 'fastify'],
    dependencies: { fastify: '5.12.8' },
    files: {
      'app.mjs': `import Fastify from 'fastify';
import { errorHandler, notFoundHandler, obsFastifyOptions, obsPlugin } from '@obs/fastify';
const app = Fastify({ ...obsFastifyOptions() });
await app.register(obsPlugin);
app.setErrorHandler(errorHandler());
app.setNotFoundHandler(notFoundHandler());
app.get('/items/:id', async (request) => { request.log.info('item'); return { id: request.params.id }; });
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
`,
    },
  });
}, PACKED_APP_TIMEOUT_MS);

afterAll(() => packed?.stop());

it('runs an app installed from the packed tarballs with node --import @obs/register', async () => {
  const { service, receiver } = packed;
  const res = await service.fetch('/items/9', { headers: { 'x-request-id': 'packed-1' } });
  expect(await res.json()).toEqual({ id: '9' });
  expect(res.headers.get('x-request-id')).toBe('packed-1');
  const line = await service.waitForLog((l) => l.msg === 'item');
  expect(line.trace_id).toMatch(/^[0-9a-f]{32}$/);
  expect(line.request_id).toBe('packed-1');
  expect(await (await service.fetch('/nope')).json()).toEqual({ error: 'Not found' });
  const metrics = await (await service.fetch('/metrics')).text();
  expect(metrics).toContain('http_route="/items/:id"');
  const [server] = await receiver.waitForSpans((s) => s.traceId === line.trace_id && s.kind === 2);
  expect(server?.attributes['http.route']).toBe('/items/:id');
  expect(service.stderr()).not.toMatch(/ERR_|Cannot find|FSTDEP/);
}, 60000);
