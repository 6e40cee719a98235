/**
 * Packs @obs/core, @obs/register and @obs/koa with `pnpm pack`, installs the tarballs into a fresh
 * Koa app outside the workspace and runs it with `node --import @obs/register`, so broken
 * `exports` maps, missing files or undeclared dependencies fail here rather than for users.
 */
import { PACKED_APP_TIMEOUT_MS, type PackedService, startPackedApp } from '@obs/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';

let packed: PackedService;

beforeAll(async () => {
  packed = await startPackedApp({
    entry: 'app.mjs',
    packages: ['core', 'register', 'koa'],
    dependencies: { koa: '3.3.0', '@koa/router': '15.7.0' },
    files: {
      'app.mjs': `import Koa from 'koa';
import Router from '@koa/router';
import { errorHandler, observe, obsRoutes } from '@obs/koa';
const app = new Koa();
app.use(observe());
app.use(errorHandler());
app.use(obsRoutes());
const router = new Router({ prefix: '/v2' });
router.get('/items/:id', (ctx) => { ctx.log.info('item'); ctx.body = { id: ctx.params.id }; });
router.get('/boom', () => { throw new Error('packed boom'); });
app.use(router.routes());
app.listen(Number(process.env.PORT));
`,
    },
  });
}, PACKED_APP_TIMEOUT_MS);

afterAll(() => packed?.stop());

it('runs a Koa app installed from the packed tarballs with node --import @obs/register', async () => {
  const { service, receiver } = packed;
  const res = await service.fetch('/v2/items/9');
  expect(await res.json()).toEqual({ id: '9' });
  const line = await service.waitForLog((l) => l.msg === 'item');
  expect(line.trace_id).toMatch(/^[0-9a-f]{32}$/);
  expect(line.request_id).toBeDefined();
  const metrics = await (await service.fetch('/metrics')).text();
  expect(metrics).toContain('http_route="/v2/items/:id"');
  await receiver.waitForSpans((s) => s.traceId === line.trace_id && s.attributes['http.route'] === '/v2/items/:id');
  const boom = await service.fetch('/v2/boom');
  expect(await boom.json()).toEqual({ error: 'Internal server error' });
  const failed = await service.waitForLog((l) => l.msg === 'request failed');
  expect((failed.err as { message?: string } | undefined)?.message).toBe('packed boom');
  expect(service.stderr()).not.toMatch(/ERR_|Cannot find|packed boom/);
}, 60000);
