/**
 * Packs @obs/core, @obs/register and @obs/express with `pnpm pack`, installs the tarballs into a fresh
 * Express app outside the workspace and runs it with `node --import @obs/register`, so broken
 * `exports` maps, missing files or undeclared dependencies fail here rather than for users.
 */
import { PACKED_APP_TIMEOUT_MS, type PackedService, startPackedApp } from '@obs/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';

let packed: PackedService;

beforeAll(async () => {
  packed = await startPackedApp({
    entry: 'app.mjs',
    packages: ['core', 'register', 'express'],
    dependencies: { express: '5.3.0' },
    files: {
      'app.mjs': `import express from 'express';
import { observe, obsRoutes, errorHandler } from '@obs/express';
const app = express();
app.use(observe());
app.use(obsRoutes());
app.get('/items/:id', (req, res) => { req.log.info('item'); res.json({ id: req.params.id }); });
app.use(errorHandler());
app.listen(Number(process.env.PORT));
`,
    },
  });
}, PACKED_APP_TIMEOUT_MS);

afterAll(() => packed?.stop());

it('runs an app installed from the packed tarballs with node --import @obs/register', async () => {
  const { service, receiver } = packed;
  const res = await service.fetch('/items/9');
  expect(await res.json()).toEqual({ id: '9' });
  const line = await service.waitForLog((l) => l.msg === 'item');
  expect(line.trace_id).toMatch(/^[0-9a-f]{32}$/);
  expect(line.request_id).toBeDefined();
  const metrics = await (await service.fetch('/metrics')).text();
  expect(metrics).toContain('http_route="/items/:id"');
  await receiver.waitForSpans((s) => s.traceId === line.trace_id && s.attributes['http.route'] === '/items/:id');
  expect(service.stderr()).not.toMatch(/ERR_|Cannot find/);
}, 60000);
