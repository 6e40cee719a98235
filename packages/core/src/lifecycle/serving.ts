/**
 * For adapters that only see requests (Express, Koa): the server a request arrived on is the one to
 * drain at shutdown, and a request arriving means the app is listening (started).
 */
import type { IncomingMessage, Server } from 'node:http';
import type { HealthRegistry } from '../health/registry.js';
import type { LifecycleControl } from './lifecycle.js';

const SEEN = new WeakSet<object>();

/**
 * Register the server `req` arrived on with the lifecycle (drained at shutdown) and mark the app
 * started. Cheap after the first request of each server; call it for every request.
 */
export function servingOn(obs: { lifecycle: LifecycleControl; health: HealthRegistry }, req: IncomingMessage): void {
  const server = (req.socket as { server?: unknown } | null | undefined)?.server;
  if (!server || typeof server !== 'object' || SEEN.has(server)) return;
  SEEN.add(server);
  try {
    obs.lifecycle.registerServer(server as Server);
  } catch {
    // not a server @obs can drain (the app closes it itself)
  }
  obs.health.markStarted();
}
