/**
 * The management server: the probes and the Prometheus scrape on a port (and address) of their own
 * (`OBS_MANAGEMENT_PORT`, `OBS_MANAGEMENT_ADDRESS`, or an adapter's `managementPort` option), so that
 * they never go through the app's middleware, hooks, authentication or sessions, and can be kept off
 * the public network. One server per process, whatever the number of apps or route tables: the
 * routes of every table built while it runs are served by it.
 *
 * - Only `GET` and `HEAD` of the table's paths are answered (matched as routers match: any letter
 *   case, with or without a trailing slash); other paths answer 404 `{"error":"Not found"}`, other
 *   methods 405 with `Allow: GET, HEAD`.
 * - Nothing it serves is logged, traced or measured (the request observer ignores the whole server).
 * - It is drained at shutdown with the app's servers, after the shutdown delay, so readiness answers
 *   503 during the delay. It does not keep the process alive (`unref`).
 * - It cannot listen (`EADDRINUSE`, `EACCES`): one warning, the app runs on, the probes and the
 *   scrape are not served (the app's port does not serve them either: the route table has moved).
 * - The startup probe turns 200 once another HTTP server of the process listens (the app's), as seen
 *   on `node:diagnostics_channel` (`tracing:net.server.listen:asyncEnd`), or at its first request;
 *   that server is then registered to be drained at shutdown.
 */
import { subscribe } from 'node:diagnostics_channel';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { HealthRegistry } from '../health/registry.js';
import type { LifecycleControl } from '../lifecycle/lifecycle.js';
import type { ObsLogger } from '../logging/logger.js';
import type { ObsRoute } from './obs-routes.js';
import type { RequestObserver } from './observer.js';

/** What the management server needs of the @obs instance. */
export interface ManagementSources {
  readonly http: RequestObserver;
  readonly health: HealthRegistry;
  readonly logger: ObsLogger;
  readonly lifecycle: LifecycleControl;
}

/** Where the management server listens. */
export interface ManagementAddress {
  /** 0 to 65535 (0: a free port, logged in the `management server listening` line). */
  readonly port: number;
  /** Interface; undefined for all interfaces (Node's default). */
  readonly address: string | undefined;
}

interface Running {
  readonly server: Server;
  readonly routes: Map<string, ObsRoute>;
  readonly where: ManagementAddress;
}

let running: Running | undefined;

function normalisePath(url: string | undefined): string {
  const raw = url ?? '/';
  const q = raw.indexOf('?');
  const path = (q === -1 ? raw : raw.slice(0, q)).toLowerCase();
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

function send(res: ServerResponse, statusCode: number, contentType: string, body: string, head: boolean): void {
  res.writeHead(statusCode, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(head ? undefined : body);
}

async function answer(routes: Map<string, ObsRoute>, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const route = routes.get(normalisePath(req.url));
  const json = 'application/json; charset=utf-8';
  if (!route) {
    send(res, 404, json, '{"error":"Not found"}', req.method === 'HEAD');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    send(res, 405, json, '{"error":"Method not allowed"}', false);
    return;
  }
  const { statusCode, contentType, body } = await route.answer(req.headers.accept);
  send(res, statusCode, contentType, body, req.method === 'HEAD');
}

/**
 * Serve `routes` on the management server, starting it on `where` if it is not running yet. A second
 * call adds its routes to the running server (an app built twice); a different port or address than
 * the running server's is ignored with a warning.
 * @returns the server (listening, or about to)
 */
export function serveManagement(obs: ManagementSources, routes: readonly ObsRoute[], where: ManagementAddress): Server {
  if (running) {
    for (const route of routes) running.routes.set(normalisePath(route.path), route);
    if (running.where.port !== where.port || running.where.address !== where.address) {
      obs.logger.warn(
        { port: where.port, address: where.address, serving_port: running.where.port },
        'management server already runs on another port; serving these routes there',
      );
    }
    return running.server;
  }
  const table = new Map(routes.map((route) => [normalisePath(route.path), route]));
  const server = createServer((req, res) => {
    answer(table, req, res).catch(() => {
      // the route answers never reject; a socket gone away is all that is left
      if (!res.headersSent)
        send(res, 500, 'application/json; charset=utf-8', '{"error":"Internal server error"}', false);
      else res.destroy();
    });
  });
  running = { server, routes: table, where };
  obs.http.ignoreServer(server);
  server.on('error', (err: NodeJS.ErrnoException) => {
    obs.logger.warn(
      { err, port: where.port, address: where.address },
      `management server cannot listen (${err.code ?? err.message}): the probes and /metrics are not served; check OBS_MANAGEMENT_PORT`,
    );
  });
  server.on('listening', () => {
    const bound = server.address();
    obs.logger.info(
      { port: typeof bound === 'object' && bound ? bound.port : where.port, address: where.address },
      'management server listening',
    );
    try {
      obs.lifecycle.registerServer(server);
    } catch {
      // not drainable: it closes with the process
    }
  });
  markStartedWhenAppListens(obs, server);
  server.listen(where.port, where.address);
  server.unref();
  return server;
}

/** The startup probe: 200 once another HTTP server of the process listens (the app's), which is then drained at shutdown. */
function markStartedWhenAppListens(obs: ManagementSources, management: Server): void {
  try {
    subscribe('tracing:net.server.listen:asyncEnd', (message) => {
      const server = (message as { server?: unknown }).server;
      if (server && server !== management && typeof (server as { on?: unknown }).on === 'function') {
        if ((server as { listenerCount(name: string): number }).listenerCount('request') > 0) {
          // the app's server: drained at shutdown (on the app's port that happens at its first request)
          try {
            obs.lifecycle.registerServer(server as Server);
          } catch {
            // not a server @obs can drain
          }
          obs.health.markStarted();
        }
      }
    });
  } catch {
    // a Node without the channel: the adapters mark the start at the first request or their listen hook
  }
}

/** The running management server's address, or undefined (for tests and the CLI). */
export function managementServer(): Server | undefined {
  return running?.server;
}
