/**
 * The @obs instance: one per process, started once. `start()` is called by the `@obs/register`
 * preload (or by the app itself) and is idempotent: later calls return the running instance.
 * The instance is kept on `globalThis`, so even two copies of @obs/core in one process share it.
 * Inside worker threads (pino transports run preloads again there) nothing is started: the instance
 * is disabled and binds no port.
 */
import { isMainThread } from 'node:worker_threads';
import { type ObsConfig, type ObsOptions, resolveConfig } from './config/resolve.js';
import { createDataTelemetry, type DataTelemetry } from './data/index.js';
import { diagnose, warn } from './diag.js';
import { type ErrorReporter, NO_ERROR_REPORTER, startErrorReporting } from './errors/reporter.js';
import type { ErrorReporting } from './errors/types.js';
import { HealthRegistry } from './health/registry.js';
import { RequestObserver } from './http/observer.js';
import { instrumentServers } from './http/server-hook.js';
import { serverTelemetry } from './http/server-telemetry.js';
import { Lifecycle, type LifecycleControl, type ShutdownHook } from './lifecycle/lifecycle.js';
import { postSync } from './lifecycle/post-sync.js';
import { createLogger, flushLogger, type ObsLogger } from './logging/logger.js';
import { instruments } from './metrics/instruments.js';
import { type Exposition, PROMETHEUS_CONTENT_TYPE } from './metrics/pipeline.js';
import { startTelemetry, type Telemetry } from './sdk.js';
import { withSpan } from './tracing/spans.js';

/** The running @obs instance. */
export interface Obs {
  /** The resolved configuration. */
  readonly config: ObsConfig;
  /** The process logger (pino). Inside a request, lines carry `request_id` and trace ids. */
  readonly logger: ObsLogger;
  /** Health checks and the probe answers. */
  readonly health: HealthRegistry;
  /** Application metrics helpers and the Prometheus exposition. */
  readonly metrics: typeof instruments & {
    /**
     * Render the exposition for a `/metrics` route: OpenMetrics 1.0 with exemplars when `accept` (the
     * request's `Accept` header) asks for it, else the Prometheus text format 0.0.4.
     */
    render(accept?: string): Promise<Exposition>;
  };
  /** The request observer adapters call. */
  readonly http: RequestObserver;
  /** Run a function in a child span (see tracing/spans.ts). */
  readonly withSpan: typeof withSpan;
  /** Database pools, cache hit/miss counts, queue consumers and depth (docs/data.md). */
  readonly data: DataTelemetry;
  /** Error reporting (Sentry when `SENTRY_DSN` is set and `@sentry/node` 11.x is installed; else no-ops). */
  readonly errors: ErrorReporting;
  /** Register a cleanup hook run at shutdown, after in-flight requests drained, before telemetry is flushed. */
  onShutdown(hook: ShutdownHook): void;
  /**
   * Shut down: readiness fails, the shutdown delay passes, the registered servers drain, hooks run,
   * telemetry flushes; each step bounded (see docs/kubernetes.md). Idempotent.
   */
  shutdown(): Promise<void>;
  /** The servers drained at shutdown (the adapters register theirs) and the drain itself. */
  readonly lifecycle: LifecycleControl;
}

const INSTANCE = Symbol.for('@obs/core.instance');

/**
 * The most the exit-time export may block the exiting process, in milliseconds
 * (`OBS_SHUTDOWN_TIMEOUT_MS` when lower). docs/configuration.md, "Exit".
 */
export const EXIT_EXPORT_TIMEOUT_MS = 2000;

/** Send what the pipeline and Sentry have not delivered, synchronously (Node's `exit` event). */
function exportAtExit(telemetry: Telemetry | undefined, errors: ErrorReporter, timeoutMs: number): void {
  const requests = [...(telemetry?.takeUndelivered() ?? []), ...errors.takeUndelivered()];
  if (requests.length === 0) return;
  const result = postSync(requests, timeoutMs);
  if (result.failed > 0) {
    diagnose(
      'warn',
      `${result.failed} of ${requests.length} telemetry exports at exit were not ${result.timedOut ? `answered within ${timeoutMs} ms` : 'accepted'}; their spans, log records or error events may be lost`,
    );
  }
}
type Holder = { [INSTANCE]?: Obs };

function build(config: ObsConfig, options: ObsOptions = {}): Obs {
  const health = new HealthRegistry(config.health);
  let logger: ObsLogger | undefined;
  let telemetry: Telemetry | undefined;
  // Created on first use (a process that never logs never loads pino), after the instrumentations
  // are registered, so the pino instrumentation sees it.
  const log = (): ObsLogger =>
    (logger ??= createLogger({
      level: config.logs.level,
      serviceName: config.serviceName,
      redactKeys: config.logs.redactKeys,
      redactStrings: config.logs.redactStrings,
      sync: config.logs.sync,
    }));
  let errors: ErrorReporter = NO_ERROR_REPORTER;
  const observer = new RequestObserver(log, () => errors);
  observer.useLogFields(config.httpLogFields);
  if (isMainThread) {
    const added = Array.isArray(options.instrumentations) ? options.instrumentations : options.instrumentations?.add;
    telemetry = startTelemetry(
      config,
      {
        ignoreIncomingPath: (p) => observer.isIgnored(p),
        httpIncoming: config.httpServerInstrumentation === 'otel',
      },
      added,
    );
    const started = telemetry;
    observer.useTelemetry(serverTelemetry(config), telemetry.enterContext, (name) =>
      started.disableInstrumentation(name),
    );
    instrumentServers(observer);
  }
  // After the OpenTelemetry pipeline: Sentry 11 reuses its global providers instead of installing its own.
  if (isMainThread) errors = startErrorReporting(config, { beforeSend: options.sentry?.beforeSend });
  const lifecycle = new Lifecycle(
    {
      markShuttingDown: () => health.markShuttingDown(),
      shutdownTelemetry: () => telemetry?.shutdown() ?? Promise.resolve(),
      flushTelemetry: () => telemetry?.forceFlush() ?? Promise.resolve(),
      flushLogs: (timeoutMs) => (logger ? flushLogger(logger, timeoutMs) : Promise.resolve()),
      cutRequest: (response) => observer.cutByServer(response),
      flushAtExit: () => exportAtExit(telemetry, errors, Math.min(EXIT_EXPORT_TIMEOUT_MS, config.shutdownTimeoutMs)),
      began: ({ signal, delayMs, drainTimeoutMs, serving }) => {
        // A process that never served is not a service: nothing of ours on its stdout.
        if (serving) log().info({ signal, delay_ms: delayMs, drain_timeout_ms: drainTimeoutMs }, 'shutting down');
      },
    },
    { budgetMs: config.shutdownTimeoutMs, delayMs: config.shutdownDelayMs, drainTimeoutMs: config.drainTimeoutMs },
  );
  if (isMainThread) lifecycle.installProcessHandlers({ signals: config.handleSignals });

  const pipeline = telemetry?.metrics;
  const obs: Obs = {
    config,
    get logger() {
      return log();
    },
    health,
    http: observer,
    withSpan,
    errors,
    data: createDataTelemetry(log),
    metrics: {
      ...instruments,
      render: (accept) => {
        telemetry?.startRuntimeMetrics();
        return pipeline
          ? pipeline.render(accept)
          : Promise.resolve({ contentType: PROMETHEUS_CONTENT_TYPE, body: '# @obs telemetry is disabled\n' });
      },
    },
    onShutdown: (hook) => lifecycle.onShutdown(hook),
    shutdown: () => lifecycle.shutdown(),
    lifecycle,
  };
  // Pending error reports are sent at shutdown, within the budget, through the public hook.
  errors.registerShutdown((hook) => obs.onShutdown(hook));
  return obs;
}

/**
 * Start @obs (once per process). Options override the `OTEL_*`/`OBS_*` environment; see
 * docs/configuration.md. Never throws for bad configuration: it warns and uses defaults.
 * @returns the running instance; when already started, that instance (options are then ignored,
 *   with a warning if any were given)
 */
export function start(options?: ObsOptions): Obs {
  const holder = globalThis as Holder;
  const existing = holder[INSTANCE];
  if (existing) {
    if (options && Object.keys(options).length > 0) {
      warn('@obs is already started (by @obs/register or an earlier start()); options passed to start() are ignored');
    }
    return existing;
  }
  const obs = build(resolveConfig(options), options);
  holder[INSTANCE] = obs;
  return obs;
}

/** The running instance, starting it from the environment when nothing has yet. */
export function getObs(): Obs {
  return (globalThis as Holder)[INSTANCE] ?? start();
}

/** True when @obs has been started in this process. */
export function isStarted(): boolean {
  return (globalThis as Holder)[INSTANCE] !== undefined;
}
