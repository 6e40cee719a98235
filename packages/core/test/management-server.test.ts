/**
 * The management server (OBS_MANAGEMENT_PORT): the route table served on its own port, with real
 * HTTP requests. Each test loads the module afresh: the server is one per process.
 */
import { once } from 'node:events';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { resolveConfig } from '../src/config/resolve.js';
import { captureDiagnostics } from '../src/diag.js';
import { HEALTH_DEFAULTS, HealthRegistry } from '../src/health/registry.js';
import { RequestObserver } from '../src/http/observer.js';
import { type LogLine, memoryLogger } from './helpers.js';

type Modules = {
  routes: typeof import('../src/http/obs-routes.js');
  management: typeof import('../src/http/management-server.js');
};

let modules: Modules;
let lines: LogLine[];
let registered: unknown[];
const closers: (() => void)[] = [];

beforeEach(async () => {
  vi.resetModules();
  modules = {
    routes: await import('../src/http/obs-routes.js'),
    management: await import('../src/http/management-server.js'),
  };
  lines = [];
  registered = [];
});

afterEach(() => {
  for (const close of closers.splice(0)) close();
});

function sources(port: number | undefined, address = '127.0.0.1') {
  const mem = memoryLogger();
  lines = mem.lines;
  const http = new RequestObserver(() => mem.logger);
  const health = new HealthRegistry(HEALTH_DEFAULTS);
  return {
    http,
    health,
    logger: mem.logger,
    lifecycle: {
      registerServer: (server: unknown) => {
        registered.push(server);
        return () => {};
      },
      shuttingDown: false,
      drain: async () => {},
    },
    metrics: { render: async () => ({ contentType: 'text/plain; version=0.0.4', body: 'up 1\n' }) },
    config: { management: { port, address } },
  };
}

function call(
  port: number,
  path: string,
  method = 'GET',
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function listening(): Promise<number> {
  const server = modules.management.managementServer();
  if (!server) throw new Error('no management server');
  closers.push(() => server.close());
  if (!server.listening) await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

describe('management server', () => {
  it('serves the route table on its own port and leaves nothing to mount on the app port', async () => {
    const obs = sources(0);
    const routes = modules.routes.obsRouteTable(obs);
    expect(routes).toEqual([]);
    const port = await listening();
    expect(registered).toHaveLength(1);
    const ready = await call(port, '/health/ready');
    expect(ready).toMatchObject({ status: 200, body: '{"status":"ok","checks":{}}' });
    expect(ready.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(await call(port, '/HEALTH/live/')).toMatchObject({ status: 200 });
    expect(await call(port, '/metrics?x=1')).toMatchObject({ status: 200, body: 'up 1\n' });
    expect(await call(port, '/health/started')).toMatchObject({ status: 503 });
    expect(await call(port, '/health/ready', 'HEAD')).toMatchObject({ status: 200, body: '' });
    expect(await call(port, '/nowhere')).toMatchObject({ status: 404, body: '{"error":"Not found"}' });
    const post = await call(port, '/metrics', 'POST');
    expect(post).toMatchObject({ status: 405 });
    expect(post.headers.allow).toBe('GET, HEAD');
    expect(lines.find((l) => l.msg === 'management server listening')).toMatchObject({ port, address: '127.0.0.1' });
  });

  it("turns the startup probe to 200 once the app listens, and drains the app's server at shutdown", async () => {
    const obs = sources(0);
    modules.routes.obsRouteTable(obs);
    const port = await listening();
    expect((await call(port, '/health/started')).status).toBe(503);
    const app = createServer((_req, res) => res.end('app'));
    closers.push(() => app.close());
    app.listen(0, '127.0.0.1');
    await once(app, 'listening');
    expect((await call(port, '/health/started')).status).toBe(200);
    expect(registered).toContain(app);
  });

  it('serves on the app port when the option says false, whatever the variable says', async () => {
    const routes = modules.routes.obsRouteTable(sources(0), { managementPort: false });
    expect(routes.map((r) => r.path)).toEqual(['/health/live', '/health/ready', '/health/started', '/metrics']);
    expect(modules.management.managementServer()).toBeUndefined();
  });

  it('warns once and keeps the process running when the port is taken', async () => {
    const taken = createServer();
    closers.push(() => taken.close());
    taken.listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const port = (taken.address() as AddressInfo).port;
    const obs = sources(port);
    expect(modules.routes.obsRouteTable(obs)).toEqual([]);
    const server = modules.management.managementServer();
    if (!server) throw new Error('no management server');
    await once(server, 'error');
    const warnings = lines.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toContain('EADDRINUSE');
    expect(warnings[0]?.msg).toContain('OBS_MANAGEMENT_PORT');
  });
});

describe('OBS_MANAGEMENT_PORT and OBS_HTTP_LOG_FIELDS', () => {
  it('resolve through the one resolver: unset by default, one warning and the default for bad values', () => {
    const diagnostics: string[] = [];
    const restore = captureDiagnostics(diagnostics);
    try {
      expect(resolveConfig({}, {}).management).toEqual({ port: undefined, address: undefined });
      expect(resolveConfig({}, {}).httpLogFields).toEqual([]);
      const good = resolveConfig(
        {},
        { OBS_MANAGEMENT_PORT: '9464', OBS_MANAGEMENT_ADDRESS: ' 127.0.0.1 ', OBS_HTTP_LOG_FIELDS: 'client.address' },
      );
      expect(good.management).toEqual({ port: 9464, address: '127.0.0.1' });
      expect(good.httpLogFields).toEqual(['client.address']);
      const bad = resolveConfig({}, { OBS_MANAGEMENT_PORT: '70000', OBS_HTTP_LOG_FIELDS: 'user_agent,client.address' });
      expect(bad.management.port).toBeUndefined();
      expect(bad.httpLogFields).toEqual(['client.address']);
      expect(diagnostics.some((d) => d.includes('OBS_MANAGEMENT_PORT="70000"'))).toBe(true);
      expect(diagnostics.some((d) => d.includes('OBS_HTTP_LOG_FIELDS') && d.includes('"user_agent"'))).toBe(true);
      expect(resolveConfig({ managementPort: 0 }, { OBS_MANAGEMENT_PORT: '9464' }).management.port).toBe(0);
    } finally {
      restore();
    }
  });
});
