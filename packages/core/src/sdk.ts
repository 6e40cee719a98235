/**
 * Builds the OpenTelemetry pipeline for all three signals from a resolved {@link ObsConfig}:
 * context manager, propagators, resource, tracer/meter/logger providers, exporters and the curated
 * instrumentations. Providers are composed directly rather than through `@opentelemetry/sdk-node`,
 * so that configuration is read exactly once (by ../config) and only the exporters a service uses
 * are loaded.
 */
import type { AsyncLocalStorage } from 'node:async_hooks';
import type { Attributes, Context, DiagLogLevel, TextMapPropagator } from '@opentelemetry/api';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import type { Resource, ResourceDetector } from '@opentelemetry/resources';
import type { LoggerProvider } from '@opentelemetry/sdk-logs';
import type { TracerProvider } from '@opentelemetry/sdk-trace';
import type { DiagLevel, InstrumentationName, ObsConfig } from './config/resolve.js';
import { diagnose } from './diag.js';
import { observeDrops } from './export-health.js';
import { load } from './lazy.js';
import type { ExitRequest } from './lifecycle/post-sync.js';
import { exitFlushRefsInstrumentation } from './logging/exit-flush-refs.js';
import { createLoggerProvider } from './logging/export.js';
import { fastifyLoggerOptionInstrumentation } from './logging/fastify-logger-option.js';
import { METRICS } from './metrics/names.js';
import { createMetricsPipeline, type MetricsPipeline } from './metrics/pipeline.js';
import { opentelemetry, otelCore, otelInstrumentation } from './otel.js';
import { takeUndelivered } from './otlp.js';
import { addedInstrumentations } from './tracing/added-instrumentations.js';
import { DeferredInstrumentations } from './tracing/deferred-instrumentations.js';
import {
  createInstrumentations,
  DEFERRED_INSTRUMENTATIONS,
  ESM_HOOKED_MODULES,
  type InstrumentationHooks,
  runningInstrumentations,
} from './tracing/instrumentations.js';
import { createTracerProvider } from './tracing/provider.js';

// CommonJS builds of the OpenTelemetry packages: see ./otel.ts
const { context, diag, logs, metrics, propagation, trace } = opentelemetry;
const { AsyncLocalStorageContextManager } = load(
  '@opentelemetry/context-async-hooks',
) as typeof import('@opentelemetry/context-async-hooks');
const { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } = otelCore;
const { registerInstrumentations } = otelInstrumentation;
const {
  defaultResource,
  detectResources,
  osDetector,
  processDetector,
  resourceFromAttributes,
  serviceInstanceIdDetector,
} = load('@opentelemetry/resources') as typeof import('@opentelemetry/resources');

/**
 * The AsyncLocalStorage context manager, plus {@link RequestContextManager.enter}: the server hook
 * (./http/server-hook.ts) makes each request's context active where no function can be wrapped.
 */
export class RequestContextManager extends AsyncLocalStorageContextManager {
  /**
   * Make `ctx` active for the rest of the current synchronous run and everything it schedules
   * (`AsyncLocalStorage#enterWith`), without a token to restore the previous one.
   */
  enter(ctx: Context): void {
    (this as unknown as { _asyncLocalStorage: AsyncLocalStorage<Context> })._asyncLocalStorage.enterWith(ctx);
  }
}

/** Milliseconds after start-up at which the runtime metrics start (or at the first collection). */
export const RUNTIME_METRICS_DELAY_MS = 1000;

/** The running pipeline. */
export interface Telemetry {
  readonly resource: Resource;
  readonly tracerProvider: TracerProvider | undefined;
  readonly metrics: MetricsPipeline | undefined;
  readonly loggerProvider: LoggerProvider | undefined;
  /** The instrumentations created so far (module-patching ones appear when their modules load). */
  readonly instrumentations: readonly Instrumentation[];
  /** Disable an instrumentation, and never create it if it has not been yet. */
  disableInstrumentation(name: InstrumentationName): void;
  /**
   * Start the runtime metrics now if they have not started: they start {@link RUNTIME_METRICS_DELAY_MS}
   * after start-up, or at the first collection, whichever comes first.
   */
  startRuntimeMetrics(): void;
  /**
   * Makes a context active for the rest of the current synchronous run; undefined when another
   * context manager was installed first (then only `context.with` works).
   */
  readonly enterContext: ((ctx: Context) => void) | undefined;
  /** Export everything buffered. Never rejects. */
  forceFlush(): Promise<void>;
  /** Flush and stop every provider. Never rejects. */
  shutdown(): Promise<void>;
  /**
   * At exit (synchronous): the spans and log records buffered or in flight, as OTLP/HTTP requests
   * to send before the process ends. Metrics are not included (their collection is asynchronous).
   */
  takeUndelivered(): ExitRequest[];
}

const DIAG_LEVELS: Record<DiagLevel, DiagLogLevel> = {
  none: opentelemetry.DiagLogLevel.NONE,
  error: opentelemetry.DiagLogLevel.ERROR,
  warn: opentelemetry.DiagLogLevel.WARN,
  info: opentelemetry.DiagLogLevel.INFO,
  debug: opentelemetry.DiagLogLevel.DEBUG,
  verbose: opentelemetry.DiagLogLevel.VERBOSE,
  all: opentelemetry.DiagLogLevel.ALL,
};

function describe(value: unknown): string {
  if (typeof value === 'string') {
    // The SDK's global error handler passes errors already serialised as JSON.
    if (value.startsWith('{"')) {
      try {
        const parsed = JSON.parse(value) as unknown;
        if (parsed && typeof parsed === 'object' && 'message' in parsed) return describe(parsed);
      } catch {
        // not JSON after all
      }
    }
    return value;
  }
  if (value && typeof value === 'object' && 'message' in value && typeof value.message === 'string') {
    const code = 'code' in value && value.code !== undefined ? ` (${String(value.code)})` : '';
    return `${value.message}${code}`;
  }
  return safeJson(value);
}

function format(message: string, args: unknown[]): string {
  const head = describe(message);
  const extra = args
    .map(describe)
    .filter((s) => s !== '')
    .join(' ');
  return extra ? `${head} ${extra}` : head;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? '';
  } catch {
    return String(value);
  }
}

/** The SDK's own queue-full warning, counted and reported by ./export-health.ts instead. */
const QUEUE_DROP = /^Dropped \d+ \w+ because maxQueueSize reached/;

function installDiag(level: DiagLevel): void {
  if (level === 'none') return;
  diag.setLogger(
    {
      error: (m, ...a) => diagnose('error', `opentelemetry: ${format(m, a)}`),
      // the batch processors' "Dropped N spans because maxQueueSize reached" is in @obs's drop report
      warn: (m, ...a) => (QUEUE_DROP.test(m) ? undefined : diagnose('warn', `opentelemetry: ${format(m, a)}`)),
      info: (m, ...a) => diagnose('info', `opentelemetry: ${format(m, a)}`),
      debug: (m, ...a) => diagnose('debug', `opentelemetry: ${format(m, a)}`),
      verbose: (m, ...a) => diagnose('debug', `opentelemetry: ${format(m, a)}`),
    },
    { logLevel: DIAG_LEVELS[level], suppressOverrideMessage: true },
  );
}

function createPropagator(config: ObsConfig): TextMapPropagator {
  const propagators: TextMapPropagator[] = [];
  for (const name of config.propagators) {
    if (name === 'tracecontext') propagators.push(new W3CTraceContextPropagator());
    else if (name === 'baggage') propagators.push(new W3CBaggagePropagator());
    else if (name === 'b3' || name === 'b3multi') {
      const { B3Propagator, B3InjectEncoding } = load('@opentelemetry/propagator-b3');
      propagators.push(
        new B3Propagator({
          injectEncoding: name === 'b3' ? B3InjectEncoding.SINGLE_HEADER : B3InjectEncoding.MULTI_HEADER,
        }),
      );
    }
  }
  return new CompositePropagator({ propagators });
}

const ARCH: Record<string, string> = {
  x64: 'amd64',
  arm64: 'arm64',
  ia32: 'x86',
  arm: 'arm32',
  ppc64: 'ppc64',
  s390x: 's390x',
};

/**
 * `host.name` and `host.arch` (semconv "Host"). The stock host detector also reads `host.id`
 * asynchronously, and exporters that touch the resource before it settles log an error at start-up.
 */
const syncHostDetector: ResourceDetector = {
  detect: () => {
    const os = load('node:os') as typeof import('node:os');
    return { attributes: { 'host.name': os.hostname(), 'host.arch': ARCH[os.arch()] ?? os.arch() } };
  },
};

function createResource(config: ObsConfig): Resource {
  const detectors: ResourceDetector[] = [];
  for (const name of config.resourceDetectors) {
    if (name === 'host') detectors.push(syncHostDetector);
    else if (name === 'os') detectors.push(osDetector);
    else if (name === 'process') detectors.push(processDetector);
    else if (name === 'serviceinstance') detectors.push(serviceInstanceIdDetector);
    else if (name === 'container') {
      // `container.id` from /proc/self/cgroup or /proc/self/mountinfo (read asynchronously, no network)
      const { containerDetector } = load(
        '@opentelemetry/resource-detector-container',
      ) as typeof import('@opentelemetry/resource-detector-container');
      detectors.push(containerDetector);
    }
  }
  // OTEL_RESOURCE_ATTRIBUTES (already parsed, robustly, by the config resolver) and the service name
  // are always applied, as sdk-node's startNodeSdk does; `env` in the detector list is accepted as a no-op.
  const attributes: Attributes = { ...config.resourceAttributes };
  return defaultResource().merge(detectResources({ detectors })).merge(resourceFromAttributes(attributes));
}

async function settle(label: string, work: Promise<unknown> | undefined): Promise<void> {
  if (!work) return;
  try {
    await work;
  } catch (err) {
    diagnose('warn', `${label} failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * Start the pipeline. With `config.disabled` only the context manager, the propagators and the
 * outgoing side of the http and undici instrumentations are installed (so request ids still reach log
 * lines and the callers' trace context reaches the services called), and every signal is a no-op.
 */
export function startTelemetry(
  config: ObsConfig,
  hooks: InstrumentationHooks,
  addedObjects: readonly Instrumentation[] = [],
): Telemetry {
  installDiag(config.diagLevel);
  const contextManager = new RequestContextManager().enable();
  let enterContext: ((ctx: Context) => void) | undefined = (ctx) => contextManager.enter(ctx);
  if (!context.setGlobalContextManager(contextManager)) {
    contextManager.disable();
    enterContext = undefined;
  }

  // Also when disabled: the app's asynchronous pino destinations must reach their exit-time flush.
  // Also when disabled: `Fastify({ ...obsFastifyOptions(), logger })` shapes the @obs logger.
  registerInstrumentations({
    instrumentations: [exitFlushRefsInstrumentation(), fastifyLoggerOptionInstrumentation()],
  });
  const resource = createResource(config);
  // Also when disabled (spec: OTEL_SDK_DISABLED disables the SDK, not context propagation): a service
  // in the middle of a call chain keeps passing the caller's trace context and baggage on.
  propagation.setGlobalPropagator(createPropagator(config));
  if (config.disabled) {
    // Outgoing calls still carry the active context: the http and undici instrumentations inject it
    // through the API's no-op tracer, whose spans pass the incoming span context on unchanged.
    const propagating = createInstrumentations([...runningInstrumentations(config)], hooks);
    registerInstrumentations({ instrumentations: propagating });
    return {
      resource,
      tracerProvider: undefined,
      metrics: undefined,
      loggerProvider: undefined,
      instrumentations: propagating,
      disableInstrumentation: (name) => {
        for (const instrumentation of propagating)
          if (instrumentation.instrumentationName.endsWith(`-${name}`)) instrumentation.disable();
      },
      startRuntimeMetrics: () => {},
      enterContext,
      forceFlush: async () => {},
      shutdown: async () => {
        for (const instrumentation of propagating) instrumentation.disable();
      },
      takeUndelivered: () => [],
    };
  }

  const tracerProvider = createTracerProvider(config, resource);
  if (tracerProvider) trace.setGlobalTracerProvider(tracerProvider);
  const metricsPipeline = createMetricsPipeline(config, resource);
  metrics.setGlobalMeterProvider(metricsPipeline.meterProvider);
  const dropped = METRICS.telemetryDropped;
  observeDrops(metricsPipeline.meterProvider.getMeter('@obs/core'), dropped.name, dropped.description, dropped.unit);
  const logExport = createLoggerProvider(config, resource);
  const loggerProvider = logExport?.provider;
  if (loggerProvider) logs.setGlobalLoggerProvider(loggerProvider);

  const instrumentationHooks = {
    ...hooks,
    logSending: loggerProvider !== undefined,
    rootClientSpans: config.traces.rootClientSpans,
  };
  const register = (list: Instrumentation[]) =>
    registerInstrumentations({
      instrumentations: list,
      ...(tracerProvider ? { tracerProvider } : {}),
      meterProvider: metricsPipeline.meterProvider,
      ...(loggerProvider ? { loggerProvider } : {}),
    });
  // Module-patching instrumentations load with their modules (./tracing/deferred-instrumentations.ts).
  const deferredNames = config.instrumentations.filter((name) => DEFERRED_INSTRUMENTATIONS.has(name));
  const deferred = new DeferredInstrumentations(
    Object.fromEntries(deferredNames.map((name) => [name, ESM_HOOKED_MODULES[name]])),
    (name) => createInstrumentations([name], instrumentationHooks),
    (list) => {
      // the providers only: enabling would register the instrumentation's own module hooks
      for (const instrumentation of list) {
        if (tracerProvider) instrumentation.setTracerProvider(tracerProvider);
        instrumentation.setMeterProvider(metricsPipeline.meterProvider);
        if (loggerProvider) instrumentation.setLoggerProvider?.(loggerProvider);
      }
    },
  );
  const eager = createInstrumentations(
    config.instrumentations.filter((name) => !DEFERRED_INSTRUMENTATIONS.has(name) && name !== 'runtime-node'),
    instrumentationHooks,
  );
  register(eager);
  // The app's own instrumentations start now, with their own module hooks (./tracing/added-instrumentations.ts).
  const added = addedInstrumentations(config, addedObjects);
  register(added);
  // Runtime metrics start once the process has lived a moment or is first scraped, whichever comes
  // first: a short-lived process (a build tool or test worker that inherited NODE_OPTIONS) never loads them.
  let runtime: Instrumentation[] = [];
  let runtimeTimer: NodeJS.Timeout | undefined;
  const startRuntimeMetrics = () => {
    if (runtimeTimer === undefined) return;
    clearTimeout(runtimeTimer);
    runtimeTimer = undefined;
    runtime = createInstrumentations(['runtime-node'], instrumentationHooks);
    register(runtime);
  };
  if (config.instrumentations.includes('runtime-node')) {
    runtimeTimer = setTimeout(startRuntimeMetrics, RUNTIME_METRICS_DELAY_MS);
    runtimeTimer.unref();
  }

  return {
    resource,
    tracerProvider,
    metrics: metricsPipeline,
    loggerProvider,
    get instrumentations() {
      return [...eager, ...added, ...runtime, ...deferred.instrumentations];
    },
    startRuntimeMetrics,
    disableInstrumentation(name) {
      deferred.refuse(name);
      for (const instrumentation of [...eager, ...added])
        if (instrumentation.instrumentationName.endsWith(`-${name}`)) instrumentation.disable();
    },
    enterContext,
    async forceFlush() {
      await Promise.all([
        settle('flushing spans', tracerProvider?.forceFlush()),
        settle('flushing metrics', metricsPipeline.forceFlush()),
        settle('flushing log records', loggerProvider?.forceFlush()),
      ]);
    },
    async shutdown() {
      deferred.stop();
      clearTimeout(runtimeTimer);
      runtimeTimer = undefined;
      for (const instrumentation of [...eager, ...added, ...runtime, ...deferred.instrumentations]) {
        instrumentation.disable();
      }
      await Promise.all([
        settle('shutting down tracing', tracerProvider?.shutdown()),
        settle('shutting down metrics', metricsPipeline.shutdown()),
        settle('shutting down log export', loggerProvider?.shutdown()),
      ]);
    },
    takeUndelivered() {
      const queuedLogs = logExport?.takeQueued() ?? [];
      return takeUndelivered(() => {
        // BatchSpanProcessor.forceFlush hands its queue to the exporter synchronously
        tracerProvider?.forceFlush().catch(() => undefined);
      }, queuedLogs);
    },
  };
}
