/**
 * Packs @obs/core, @obs/register and @obs/express with `pnpm pack`, installs the tarballs into a
 * fresh app outside the workspace and runs it with `node --import @obs/register`, so broken
 * `exports` maps, missing files or undeclared dependencies fail here rather than for users.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type OtlpReceiver, type Service, startOtlpReceiver, startService } from '@obs/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const PACKAGES = ['core', 'register', 'express'];
let dir: string;
let service: Service | undefined;
let receiver: OtlpReceiver | undefined;

function pnpm(args: string[], cwd: string): string {
  // The pnpm that runs this test suite (npm_execpath) or the one on PATH.
  const execPath = process.env.npm_execpath;
  const [cmd, pre] =
    execPath?.endsWith('.cjs') || execPath?.endsWith('.js') ? [process.execPath, [execPath]] : ['pnpm', []];
  return execFileSync(cmd, [...pre, ...args], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 150_000, // a registry that never answers must fail this test, not hang CI
  });
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'obs-packed-'));
  const tarballs: Record<string, string> = {};
  for (const name of PACKAGES) {
    pnpm(['pack', '--pack-destination', dir], join(ROOT, 'packages', name));
  }
  for (const file of readdirSync(dir)) {
    const match = /^obs-(core|register|express)-.*\.tgz$/.exec(file);
    if (match) tarballs[`@obs/${match[1]}`] = `file:${join(dir, file)}`;
  }
  expect(Object.keys(tarballs).sort()).toEqual(['@obs/core', '@obs/express', '@obs/register']);
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({
      name: 'packed-app',
      private: true,
      type: 'module',
      dependencies: { ...tarballs, express: '5.3.0' },
      pnpm: { overrides: tarballs },
    }),
  );
  writeFileSync(
    join(dir, 'app.mjs'),
    `import express from 'express';
import { observe, obsRoutes, errorHandler } from '@obs/express';
const app = express();
app.use(observe());
app.use(obsRoutes());
app.get('/items/:id', (req, res) => { req.log.info('item'); res.json({ id: req.params.id }); });
app.use(errorHandler());
app.listen(Number(process.env.PORT));
`,
  );
  // --prefer-offline: the workspace install has already put every dependency in the store.
  pnpm(['install', '--ignore-workspace', '--prefer-offline', '--config.confirmModulesPurge=false'], dir);
}, 180000);

afterAll(async () => {
  await service?.stop('SIGKILL');
  await receiver?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('runs an app installed from the packed tarballs with node --import @obs/register', async () => {
  receiver = await startOtlpReceiver();
  service = await startService({
    cwd: dir,
    entry: 'app.mjs',
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '100' },
  });
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
