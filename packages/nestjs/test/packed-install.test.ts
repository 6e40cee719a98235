/**
 * Packs @obs/core, @obs/register and @obs/nestjs with `pnpm pack`, installs the tarballs into a fresh
 * NestJS app outside the workspace and runs it with `node --import @obs/register`, so broken
 * `exports` maps, missing files or undeclared dependencies fail here rather than for users. The app
 * is plain JavaScript, its decorators applied as functions, so that it needs no compiler.
 */
import { PACKED_APP_TIMEOUT_MS, type PackedService, startPackedApp } from '@obs/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';

let packed: PackedService;

beforeAll(async () => {
  packed = await startPackedApp({
    entry: 'app.mjs',
    packages: ['core', 'register', 'nestjs'],
    dependencies: {
      '@nestjs/common': '12.5.1',
      '@nestjs/core': '12.5.1',
      '@nestjs/platform-express': '12.5.1',
      'reflect-metadata': '0.2.2',
      rxjs: '7.8.2',
    },
    files: {
      'app.mjs': `import 'reflect-metadata';
import { Controller, Get, Logger, Module, Param } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ObservabilityModule, ObsLoggerService } from '@obs/nestjs';

const logger = new Logger('Items');
class ItemsController {
  item(id) { logger.log('item', { id }); return { id }; }
  boom() { throw new Error('packed boom'); }
}
const proto = ItemsController.prototype;
Get('items/:id')(proto, 'item', Object.getOwnPropertyDescriptor(proto, 'item'));
Param('id')(proto, 'item', 0);
Get('boom')(proto, 'boom', Object.getOwnPropertyDescriptor(proto, 'boom'));
Controller('v2')(ItemsController);

class AppModule {}
Module({ imports: [ObservabilityModule.forRoot()], controllers: [ItemsController] })(AppModule);

const nest = await NestFactory.create(AppModule, { bufferLogs: true });
nest.useLogger(nest.get(ObsLoggerService));
await nest.listen(Number(process.env.PORT), '127.0.0.1');
`,
    },
  });
}, PACKED_APP_TIMEOUT_MS);

afterAll(() => packed?.stop());

it('runs a NestJS app installed from the packed tarballs with node --import @obs/register', async () => {
  const { service, receiver } = packed;
  const res = await service.fetch('/v2/items/9');
  expect(await res.json()).toEqual({ id: '9' });
  const line = await service.waitForLog((l) => l.msg === 'item');
  expect(line).toMatchObject({ context: 'Items', id: '9' });
  expect(line.trace_id).toMatch(/^[0-9a-f]{32}$/);
  expect(line.request_id).toBeDefined();
  const metrics = await (await service.fetch('/metrics')).text();
  expect(metrics).toContain('http_route="/v2/items/:id"');
  await receiver.waitForSpans((s) => s.traceId === line.trace_id && s.attributes['http.route'] === '/v2/items/:id');
  const boom = await service.fetch('/v2/boom');
  expect(boom.status).toBe(500);
  const failed = await service.waitForLog((l) => l.msg === 'request failed');
  expect((failed.err as { message?: string } | undefined)?.message).toBe('packed boom');
  expect(service.stderr()).not.toMatch(/ERR_|Cannot find|packed boom/);
}, 60000);
