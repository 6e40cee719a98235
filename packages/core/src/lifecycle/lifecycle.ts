/**
 * Start once, shut down once. Shutdown marks readiness as failing, runs the app's cleanup hooks,
 * then flushes every pillar, all within one budget (`OBS_SHUTDOWN_TIMEOUT_MS`, default 5000 ms): a
 * collector that hangs costs telemetry, never a hung process.
 *
 * Signals (SIGTERM, SIGINT): when the app has no handler of its own for the signal, @obs shuts down
 * and then re-raises the signal with its handler removed, so the process ends exactly as it would
 * have without @obs (killed by that signal). When the app has its own handler, the app decides when
 * to exit; @obs only marks readiness as failing and flushes what is buffered, leaving the pipeline
 * running so the requests the app still drains are recorded too. A second signal during shutdown
 * ends the process at once. When the event loop empties (`beforeExit`), @obs flushes before the process
 * ends with its usual exit code.
 */
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
}

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

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

/** The process lifecycle. */
export class Lifecycle {
  readonly #parts: LifecycleParts;
  readonly #budgetMs: number;
  readonly #hooks: ShutdownHook[] = [];
  #shutdown: Promise<void> | undefined;
  #listeners: { signal: NodeJS.Signals; listener: () => void }[] = [];
  #beforeExit: (() => void) | undefined;

  constructor(parts: LifecycleParts, budgetMs: number) {
    this.#parts = parts;
    this.#budgetMs = budgetMs;
  }

  /** Register a cleanup hook; hooks run in registration order, before telemetry is flushed. */
  onShutdown(hook: ShutdownHook): void {
    this.#hooks.push(hook);
  }

  /** True once shutdown has begun. */
  get shuttingDown(): boolean {
    return this.#shutdown !== undefined;
  }

  /**
   * Shut down (idempotent: later calls return the first call's promise). Resolves within the budget
   * plus a few milliseconds, whatever the hooks and exporters do. Never rejects.
   */
  shutdown(): Promise<void> {
    this.#shutdown ??= this.#run();
    return this.#shutdown;
  }

  async #run(): Promise<void> {
    const deadline = performance.now() + this.#budgetMs;
    const remaining = () => Math.max(0, deadline - performance.now());
    this.#parts.markShuttingDown();
    for (const hook of this.#hooks) {
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

  /** Install the SIGTERM/SIGINT and beforeExit handling described in the module comment. */
  installProcessHandlers(): void {
    if (this.#listeners.length > 0) return;
    for (const signal of SIGNALS) {
      const listener = () => this.#onSignal(signal, listener);
      process.on(signal, listener);
      this.#listeners.push({ signal, listener });
    }
    this.#beforeExit = () => {
      // The app's work is done. Flush within the budget, then end the process with its exit code:
      // exporter retry timers and sockets must not keep a finished script alive past the budget.
      void this.shutdown().then(() => process.exit());
    };
    process.once('beforeExit', this.#beforeExit);
  }

  /** Remove the process handlers (tests). */
  removeProcessHandlers(): void {
    for (const { signal, listener } of this.#listeners) process.removeListener(signal, listener);
    this.#listeners = [];
    if (this.#beforeExit) process.removeListener('beforeExit', this.#beforeExit);
  }

  #onSignal(signal: NodeJS.Signals, listener: () => void): void {
    const appHandlesIt = foreignListenerCount(signal, listener) > 0;
    if (appHandlesIt) {
      this.#parts.markShuttingDown();
      void withTimeout(this.#parts.flushTelemetry(), this.#budgetMs);
      return;
    }
    const reRaise = () => {
      this.removeProcessHandlers();
      process.kill(process.pid, signal);
    };
    if (this.#shutdown) {
      // second signal: stop waiting
      reRaise();
      return;
    }
    this.shutdown().then(reRaise, reRaise);
  }
}
