/**
 * Graceful shutdown in Nest's idiom. Nest shuts down (`app.close()`, or a signal with
 * `app.enableShutdownHooks()`) in this order: the HTTP adapter's `beforeClose()`, every
 * `onModuleDestroy()`, every `beforeApplicationShutdown()`, closing the HTTP server, every
 * `onApplicationShutdown()`. @obs takes the first step: when the process is shutting down (a signal
 * reached @obs first, so readiness already answers 503), the adapter's `beforeClose()` waits the
 * shutdown delay and drains the HTTP server (stop accepting, finish in-flight requests, bounded)
 * before any hook of the app runs, so no hook closes a pool a request still needs. Then Nest runs its
 * hooks; @obs's own `onShutdown` hooks and the telemetry flush come after them, when Nest re-raises the
 * signal. An `app.close()` outside any shutdown (tests) is Nest's alone.
 *
 * Without `enableShutdownHooks()`, Nest runs none of its hooks on a signal; @obs then drains the
 * server and runs its own sequence.
 *
 * Nest 11 has no `beforeClose()` step (Nest 12 added it, with `prepareClose()`): there the drain runs
 * at the start of `callDestroyHook()`, the first step of its close, which comes to the same order.
 */
import type { Server } from 'node:http';
import { NestApplicationContext } from '@nestjs/core';
import { getObs } from '@obs/core';
import type { AdapterLike } from './http.js';

const PATCHED = Symbol.for('@obs/nestjs.before-close-patched');

/** The parts of `NestApplicationContext.prototype` used here (protected in Nest's types). */
interface ContextPrototype {
  prepareClose?: unknown;
  callDestroyHook?: (this: unknown, ...args: unknown[]) => Promise<unknown>;
}

/**
 * On Nest 11 (no `prepareClose()`), make every application's `callDestroyHook()` drain the HTTP
 * servers first when the process is shutting down. Nest 12 calls the adapter's `beforeClose()` before
 * it instead (see {@link shutDownWith}). Idempotent.
 */
export function drainBeforeDestroyHooks(proto: ContextPrototype = NestApplicationContext.prototype as never): void {
  const original = proto.callDestroyHook;
  if (typeof proto.prepareClose === 'function' || typeof original !== 'function') return;
  if ((original as { [PATCHED]?: true })[PATCHED]) return;
  const obs = getObs();
  const patched = async function (this: unknown, ...args: unknown[]) {
    if (obs.lifecycle.shuttingDown) await obs.lifecycle.drain();
    return original.apply(this, args);
  };
  (patched as { [PATCHED]?: true })[PATCHED] = true;
  proto.callDestroyHook = patched;
}

type Closable = AdapterLike & { beforeClose?: (...args: unknown[]) => unknown };

/**
 * Register the adapter's HTTP server with @obs (drained at shutdown; started once it listens) and make
 * the adapter's `beforeClose()` drain it first when the process is shutting down. Idempotent.
 */
export function shutDownWith(adapter: Closable, server: Server): void {
  const obs = getObs();
  drainBeforeDestroyHooks();
  obs.lifecycle.registerServer(server);
  if (server.listening) obs.health.markStarted();
  else server.once('listening', () => obs.health.markStarted());

  const original = adapter.beforeClose;
  if ((original as { [PATCHED]?: true } | undefined)?.[PATCHED]) return;
  const patched = async function (this: unknown, ...args: unknown[]) {
    if (obs.lifecycle.shuttingDown) await obs.lifecycle.drain();
    return original?.apply(this, args);
  };
  (patched as { [PATCHED]?: true })[PATCHED] = true;
  adapter.beforeClose = patched;
}
