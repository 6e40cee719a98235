/**
 * Start once, shut down once, in this order, every step bounded:
 *
 * 1. Readiness fails at once (`/health/ready` answers 503); liveness stays 200.
 * 2. The server keeps serving for `OBS_SHUTDOWN_DELAY_MS` (default 5000 in Kubernetes, else 0), so
 *    load balancers stop sending traffic before it stops accepting connections.
 * 3. The registered HTTP servers stop accepting connections; idle keep-alive connections close at once,
 *    the others after their in-flight response (which is sent with `Connection: close`). What is still
 *    open after `OBS_DRAIN_TIMEOUT_MS` (default 10000) is closed.
 * 4. Cleanup, within `OBS_SHUTDOWN_TIMEOUT_MS` (default 5000) shared with step 5: the frameworks' own
 *    close (Fastify's `onClose` hooks), then the hooks registered with `onShutdown()`, in order. Never
 *    before the drain: pools are closed once no request needs them.
 * 5. Telemetry is flushed and stopped, then the log destination drained.
 *
 * Servers are registered by the adapters (`registerServer`); the delay and drain can also run from a
 * framework's own close (Fastify `preClose`, Nest `beforeClose`) through `drain()`.
 *
 * Signals (SIGTERM, SIGINT): when the app has no handler of its own for the signal, @obs runs the
 * whole sequence and then re-raises the signal with its handler removed, so the process ends exactly as
 * it would have without @obs (killed by that signal). When the app has its own handler, the app
 * decides when to exit: @obs makes readiness fail, starts the delay clock (a framework close that
 * drains through `drain()` waits for it) and flushes what is buffered, leaving the pipeline running so
 * the requests the app still drains are recorded too. A second signal during shutdown ends the process
 * at once.
 *
 * Any other end is the app's and @obs does not change it: when the event loop empties, @obs neither
 * keeps it alive nor ends the process (Node emits `beforeExit` to the app's handlers and ends as it
 * would). On `process.exit()`, an uncaught exception or that natural end, @obs exports what is
 * buffered synchronously in Node's `exit` event, within a bounded deadline (`flushAtExit`).
 */
import { subscribe } from 'node:diagnostics_channel';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { constants } from 'node:os';
import { diagnose } from '../diag.js';

/** A cleanup step run at shutdown (close pools, stop consumers). */
export type ShutdownHook = () => unknown | Promise<unknown>;

/** What the lifecycle needs from the rest of @obs. */
export interface LifecycleParts {
  /** Called first: readiness starts failing. */
  markShuttingDown(): void;
  /** Flush and stop telemetry. */
  shutdownTelemetry(): Promise<void>;
  /** Export what is buffered, keeping the pipeline running. */
  flushTelemetry(): Promise<void>;
  /** Drain the log destination (last thing before exit); within `timeoutMs`, then synchronously. */
  flushLogs(timeoutMs: number): Promise<void>;
  /**
   * The drain timeout is about to close `response`'s connection before it finished: the request was
   * cut by the server, not abandoned by its client (the request observer records it so).
   */
  cutRequest?(response: ServerResponse): void;
  /**
   * Export what is buffered synchronously, in Node's `exit` event (the process cannot wait
   * asynchronously there): bounded by its own deadline. Called once, whatever ends the process
   * (`process.exit()`, an uncaught exception, the event loop emptying), except death by signal.
   */
  flushAtExit?(): void;
  /** Told once when shutdown begins (to log it). `serving`: an HTTP server was ever registered. */
  began?(info: { signal?: NodeJS.Signals; delayMs: number; drainTimeoutMs: number; serving: boolean }): void;
}

/** Timings of the sequence, in milliseconds. */
export interface LifecycleSettings {
  /** Budget of cleanup hooks plus telemetry flush (`OBS_SHUTDOWN_TIMEOUT_MS`). */
  budgetMs: number;
  /** Readiness failing before the servers stop accepting (`OBS_SHUTDOWN_DELAY_MS`). Default 0. */
  delayMs?: number;
  /** In-flight requests' time to finish (`OBS_DRAIN_TIMEOUT_MS`). Default 10000. */
  drainTimeoutMs?: number;
}

/** Options of {@link LifecycleControl.registerServer}. */
export interface ServerOptions {
  /**
   * The framework's own close (Fastify: `() => app.close()`, which runs its `onClose` hooks), called
   * after the drain, before the `onShutdown` hooks, within the shutdown budget.
   */
  close?: () => unknown;
}

/** The server-facing part of the lifecycle, as `obs.lifecycle`. */
export interface LifecycleControl {
  /**
   * Drain this HTTP(S) server at shutdown. Idempotent per server; a server that emits `close` is
   * forgotten. The adapters register the servers they serve.
   * @returns a function that unregisters it
   */
  registerServer(server: Server, options?: ServerOptions): () => void;
  /** True once shutdown has begun (a signal or `shutdown()`). */
  readonly shuttingDown: boolean;
  /**
   * Steps 1 to 3: readiness fails, the delay passes (unless shutdown began without one), the
   * registered servers stop accepting and drain. Idempotent; resolves within delay + drain timeout.
   * Frameworks' close hooks await it when `shuttingDown`.
   */
  drain(): Promise<void>;
}

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;
const DEFAULT_DRAIN_TIMEOUT_MS = 10000;
/** How often idle connections are closed while a server drains. */
const IDLE_SWEEP_MS = 25;
/** How long a server gets to emit `close` after its connections were destroyed. */
const FORCED_CLOSE_WAIT_MS = 200;
/**
 * After re-raising a signal: how long the process may take to end by it. Signal listeners of others
 * (signal-exit) run asynchronously and end it; as PID 1 of a container the kernel ignores the signal,
 * and the process exits with 128 + the signal number instead (143 for SIGTERM), as a shell reports it.
 */
const RERAISE_GRACE_MS = 1000;

/** Send `signal` to this process again; exit with 128 + its number if that does not end it. */
function reRaiseSignal(signal: NodeJS.Signals): void {
  // Ref'd: the loop stays alive until the signal is handled (no 'beforeExit' in between).
  setTimeout(() => process.exit(128 + (constants.signals[signal] ?? 0)), RERAISE_GRACE_MS);
  process.kill(process.pid, signal);
}

type SignalExitState = { count?: unknown } | undefined;

/**
 * Listeners for `signal` other than ours and other than signal-exit's. signal-exit (used by execa,
 * write-file-atomic and many more) re-raises a signal only when its own listeners are the only ones,
 * exactly as @obs does; counting its listeners as "the app's" would leave both waiting for the other
 * and the process alive. Its listener count is published on the process (v3) and globally (v4).
 */
function foreignListenerCount(signal: NodeJS.Signals, ours: () => void): number {
  const others = process.listeners(signal).filter((l) => l !== ours).length;
  const v4 = (globalThis as Record<symbol, SignalExitState>)[Symbol.for('signal-exit emitter')];
  const v3 = (process as unknown as { __signal_exit_emitter__?: SignalExitState }).__signal_exit_emitter__;
  const count = (state: SignalExitState) => (typeof state?.count === 'number' ? state.count : 0);
  return others - count(v4) - count(v3);
}

function withTimeout(work: Promise<unknown>, ms: number): Promise<'done' | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work.then(
      () => 'done' as const,
      () => 'done' as const,
    ),
    new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A registered server and what is known about it. */
interface ServerEntry {
  readonly server: Server;
  readonly options: ServerOptions;
  /** Responses in flight (tracked so that they can be sent with `Connection: close` once draining). */
  readonly inFlight: Set<ServerResponse>;
  draining: boolean;
}

/** Per server, its entry, for the request-start channel. Shared by every lifecycle of the process. */
const ENTRIES = new WeakMap<Server, ServerEntry>();
let channelSubscribed = false;

/** Resolves when `response` has emitted 'close' (at once if it has). */
function closeOf(response: ServerResponse): Promise<void> {
  if ((response as { closed?: boolean }).closed) return Promise.resolve();
  return new Promise((resolve) => response.once('close', () => resolve()));
}

/** Answer with `Connection: close`: the client does not send another request on the connection. */
function closeAfter(response: ServerResponse): void {
  try {
    if (!response.headersSent) response.setHeader('connection', 'close');
  } catch {
    // headers on their way out: the idle sweep closes the connection after the response
  }
}

/** Track each request of a registered server; once it drains, answer with `Connection: close`. */
function onRequestStart(message: unknown): void {
  const { server, response } = message as { server?: Server; request?: IncomingMessage; response?: ServerResponse };
  if (!server || !response) return;
  const entry = ENTRIES.get(server);
  if (!entry) return;
  if (entry.draining) {
    closeAfter(response);
    return;
  }
  entry.inFlight.add(response);
  response.once('close', () => entry.inFlight.delete(response));
}

/** The process lifecycle. */
export class Lifecycle implements LifecycleControl {
  readonly #parts: LifecycleParts;
  readonly #budgetMs: number;
  readonly #delayMs: number;
  readonly #drainTimeoutMs: number;
  readonly #hooks: ShutdownHook[] = [];
  readonly #servers = new Set<ServerEntry>();
  /** Servers the drain closed: their frameworks' close still runs among the cleanup hooks. */
  readonly #drained: ServerEntry[] = [];
  /** `performance.now()` at which the delay ends, once shutdown has begun. */
  #delayUntil: number | undefined;
  #drain: Promise<void> | undefined;
  #shutdown: Promise<void> | undefined;
  #signalled = false;
  /** A server was registered at some point: the process is a service. */
  #served = false;
  #listeners: { signal: NodeJS.Signals; listener: () => void }[] = [];
  #onExit: (() => void) | undefined;

  constructor(parts: LifecycleParts, settings: LifecycleSettings) {
    this.#parts = parts;
    this.#budgetMs = settings.budgetMs;
    this.#delayMs = settings.delayMs ?? 0;
    this.#drainTimeoutMs = settings.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
  }

  /** Register a cleanup hook; hooks run in registration order, after the drain, before telemetry is flushed. */
  onShutdown(hook: ShutdownHook): void {
    this.#hooks.push(hook);
  }

  registerServer(server: Server, options: ServerOptions = {}): () => void {
    if (!server || typeof server.close !== 'function' || typeof server.once !== 'function') {
      throw new TypeError('registerServer needs a node:http or node:https server');
    }
    const existing = ENTRIES.get(server);
    if (existing && this.#servers.has(existing)) return () => this.#forget(existing);
    const entry: ServerEntry = { server, options, inFlight: new Set(), draining: false };
    this.#served = true;
    ENTRIES.set(server, entry);
    this.#servers.add(entry);
    server.once('close', () => this.#forget(entry));
    if (!channelSubscribed) {
      channelSubscribed = true;
      subscribe('http.server.request.start', onRequestStart);
    }
    return () => this.#forget(entry);
  }

  #forget(entry: ServerEntry): void {
    this.#servers.delete(entry);
    if (ENTRIES.get(entry.server) === entry && !entry.draining) ENTRIES.delete(entry.server);
  }

  /** True once shutdown has begun. */
  get shuttingDown(): boolean {
    return this.#delayUntil !== undefined;
  }

  /** Step 1: readiness fails, the delay clock starts. Idempotent: the first call decides. */
  #begin(options: { delay: boolean; signal?: NodeJS.Signals }): void {
    if (this.#delayUntil !== undefined) return;
    const delayMs = options.delay ? this.#delayMs : 0;
    this.#delayUntil = performance.now() + delayMs;
    this.#parts.markShuttingDown();
    try {
      this.#parts.began?.({
        signal: options.signal,
        delayMs,
        drainTimeoutMs: this.#drainTimeoutMs,
        serving: this.#served,
      });
    } catch {
      // informational only
    }
  }

  drain(): Promise<void> {
    this.#begin({ delay: true });
    this.#drain ??= this.#runDrain();
    return this.#drain;
  }

  async #runDrain(): Promise<void> {
    const wait = (this.#delayUntil ?? 0) - performance.now();
    if (wait > 0) await sleep(wait);
    const entries = [...this.#servers];
    this.#drained.push(...entries);
    const deadline = performance.now() + this.#drainTimeoutMs;
    await Promise.all(entries.map((entry) => this.#drainServer(entry, deadline)));
  }

  async #drainServer(entry: ServerEntry, deadline: number): Promise<void> {
    const { server } = entry;
    entry.draining = true;
    for (const response of entry.inFlight) closeAfter(response);
    const closed = new Promise<void>((resolve) => {
      try {
        server.close(() => resolve());
      } catch {
        resolve();
      }
    });
    const sweep = () => {
      if (typeof server.closeIdleConnections === 'function') server.closeIdleConnections();
    };
    sweep();
    const sweeper = setInterval(sweep, IDLE_SWEEP_MS);
    try {
      if ((await withTimeout(closed, Math.max(0, deadline - performance.now()))) === 'done') return;
      diagnose(
        'warn',
        `requests still in flight after ${this.#drainTimeoutMs} ms (OBS_DRAIN_TIMEOUT_MS); closing their connections`,
      );
      const cut = [...entry.inFlight];
      for (const response of cut) this.#parts.cutRequest?.(response);
      if (typeof server.closeAllConnections === 'function') server.closeAllConnections();
      // the server may report itself closed before its responses do: their spans end on 'close'
      await withTimeout(Promise.all([closed, ...cut.map(closeOf)]), FORCED_CLOSE_WAIT_MS);
    } finally {
      clearInterval(sweeper);
      entry.draining = false;
      if (ENTRIES.get(server) === entry) ENTRIES.delete(server);
    }
  }

  /**
   * Shut down (idempotent: later calls return the first call's promise): the whole sequence of the
   * module comment. Resolves within delay + drain timeout + budget plus a few milliseconds, whatever
   * the hooks and exporters do. Never rejects.
   */
  shutdown(): Promise<void> {
    this.#shutdown ??= this.#run();
    return this.#shutdown;
  }

  async #run(): Promise<void> {
    await this.drain();
    const deadline = performance.now() + this.#budgetMs;
    const remaining = () => Math.max(0, deadline - performance.now());
    const frameworkCloses = this.#drained.flatMap((e) => (e.options.close ? [e.options.close] : []));
    for (const hook of [...frameworkCloses, ...this.#hooks]) {
      const result = await withTimeout(
        Promise.resolve()
          .then(hook)
          .catch((err: unknown) => {
            diagnose('warn', `a shutdown hook failed: ${err instanceof Error ? err.message : String(err)}`);
          }),
        remaining(),
      );
      if (result === 'timeout') {
        diagnose('warn', 'shutdown hooks did not finish within the shutdown budget; going on');
        break;
      }
    }
    const flushed = await withTimeout(this.#parts.shutdownTelemetry(), remaining());
    if (flushed === 'timeout') {
      diagnose(
        'warn',
        `telemetry was not flushed within ${this.#budgetMs} ms (OBS_SHUTDOWN_TIMEOUT_MS); some was lost`,
      );
    }
    // Logs get what is left of the budget, and at least a moment to drain.
    await Promise.resolve()
      .then(() => this.#parts.flushLogs(Math.max(remaining(), 100)))
      .catch(() => undefined);
  }

  /**
   * Install the exit-time flush and (unless `signals` is false: `OBS_HANDLE_SIGNALS=false`) the
   * SIGTERM/SIGINT handling described in the module comment. Idempotent.
   */
  installProcessHandlers(options: { signals?: boolean } = {}): void {
    if (this.#onExit) return;
    for (const signal of options.signals === false ? [] : SIGNALS) {
      const listener = () => this.#onSignal(signal, listener);
      process.on(signal, listener);
      this.#listeners.push({ signal, listener });
    }
    // No `beforeExit` handler: an emptied event loop is the app's to end (node:test reports its
    // cancelled tests there, apps schedule last work there). `exit` runs once, synchronously.
    this.#onExit = () => {
      try {
        this.#parts.flushAtExit?.();
      } catch {
        // nothing may throw from an exit handler: the app's exit code stands
      }
    };
    process.once('exit', this.#onExit);
  }

  /** Remove the process handlers (tests). */
  removeProcessHandlers(): void {
    for (const { signal, listener } of this.#listeners) process.removeListener(signal, listener);
    this.#listeners = [];
    if (this.#onExit) process.removeListener('exit', this.#onExit);
    this.#onExit = undefined;
  }

  #onSignal(signal: NodeJS.Signals, listener: () => void): void {
    const appHandlesIt = foreignListenerCount(signal, listener) > 0;
    const reRaise = () => {
      this.removeProcessHandlers();
      reRaiseSignal(signal);
    };
    if (appHandlesIt) {
      if (this.#signalled) {
        // A second signal while the app's own shutdown runs: end now, as Node would without handlers.
        this.removeProcessHandlers();
        process.removeAllListeners(signal);
        reRaiseSignal(signal);
        return;
      }
      this.#signalled = true;
      this.#begin({ delay: true, signal });
      void withTimeout(this.#parts.flushTelemetry(), this.#budgetMs);
      return;
    }
    if (this.#shutdown) {
      // second signal: stop waiting
      reRaise();
      return;
    }
    this.#signalled = true;
    this.#begin({ delay: true, signal });
    this.shutdown().then(reRaise, reRaise);
  }
}
