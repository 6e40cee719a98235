/**
 * `servingOn` (src/lifecycle/serving.ts), as the Express and Koa adapters call it for every request:
 * real node:http servers and requests in the test process, a lifecycle that records the servers it is
 * given, and a real health registry.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HealthRegistry } from '../src/health/registry.js';
import type { LifecycleControl } from '../src/lifecycle/lifecycle.js';
import { servingOn } from '../src/lifecycle/serving.js';

/** A lifecycle that records `registerServer` calls (and can refuse them, as it does for non-http servers). */
function recordingObs(refuse = false) {
  const registered: unknown[] = [];
  const lifecycle = {
    registerServer(server: Server) {
      registered.push(server);
      if (refuse) throw new TypeError('registerServer needs a node:http or node:https server');
      return () => {};
    },
  } as unknown as LifecycleControl;
  return { obs: { lifecycle, health: new HealthRegistry() }, registered };
}

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  }
});

/** A server whose handler calls servingOn for every request, as the adapters' middleware does. */
async function serving(obs: Parameters<typeof servingOn>[0]): Promise<{ server: Server; get: () => Promise<number> }> {
  const server = createServer((req, res) => {
    servingOn(obs, req);
    res.end('ok');
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return {
    server,
    get: async () => {
      const res = await fetch(url);
      await res.text();
      return res.status;
    },
  };
}

describe('servingOn', () => {
  it('registers the server a request arrived on once, and marks the app started', async () => {
    const { obs, registered } = recordingObs();
    const { server, get } = await serving(obs);
    expect(obs.health.started).toBe(false);
    expect(await get()).toBe(200);
    expect(registered).toEqual([server]);
    expect(registered[0]).toBe(server);
    expect(obs.health.started).toBe(true);
    expect(await get()).toBe(200);
    expect(await get()).toBe(200);
    expect(registered).toHaveLength(1);
  });

  it('registers each server that serves a request', async () => {
    const { obs, registered } = recordingObs();
    const first = await serving(obs);
    const second = await serving(obs);
    await first.get();
    await second.get();
    await first.get();
    expect(registered).toHaveLength(2);
    expect(registered[0]).toBe(first.server);
    expect(registered[1]).toBe(second.server);
  });

  it('marks the app started when the lifecycle refuses the server, and does not throw', async () => {
    const { obs, registered } = recordingObs(true);
    const { server, get } = await serving(obs);
    expect(await get()).toBe(200);
    expect(registered).toHaveLength(1);
    expect(registered[0]).toBe(server);
    expect(obs.health.started).toBe(true);
  });

  it('does nothing for a request without a server (an injected or hand-made request)', () => {
    const { obs, registered } = recordingObs();
    for (const socket of [undefined, null, {}, { server: null }, { server: true }, { server: 'server' }]) {
      expect(() => servingOn(obs, { socket } as unknown as IncomingMessage)).not.toThrow();
    }
    expect(registered).toEqual([]);
    expect(obs.health.started).toBe(false);
  });
});
