import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest } from '../src/raw-request.js';

describe('rawRequest', () => {
  const seen: { method?: string; url?: string; header?: string; port?: number }[] = [];
  const server = createServer((req, res) => {
    seen.push({
      method: req.method,
      url: req.url,
      header: req.headers['x-probe'] as string,
      port: req.socket.remotePort,
    });
    res.setHeader('x-answer', 'yes');
    res.end(`answer to ${req.method} ${req.url}`);
  });
  let port: number;
  beforeAll(async () => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('sends the target exactly as given, with any method and headers, on a new connection each time', async () => {
    const first = await rawRequest(port, 'http://user:pw@example.test/a?b=1#frag', {
      method: 'PURGE',
      headers: { 'x-probe': 'p1' },
    });
    expect(first).toMatchObject({ status: 200, body: 'answer to PURGE http://user:pw@example.test/a?b=1#frag' });
    expect(first.headers['x-answer']).toBe('yes');
    const second = await rawRequest(port, '/plain');
    expect(second.body).toBe('answer to GET /plain');
    expect(seen.map((s) => s.header)).toEqual(['p1', undefined]);
    expect(seen[0]?.port).not.toBe(seen[1]?.port);
  });

  it('rejects when nothing listens', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const freed = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await expect(rawRequest(freed, '/')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
