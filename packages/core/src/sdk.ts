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
import type { DiagLevel, ObsConfig } from './config/resolve.js';
import { diagnose } from './diag.js';
import { load } from './lazy.js';
import { createLoggerProvider } from './logging/export.js';
import { createMetricsPipeline, type MetricsPipeline } from './metrics/pipeline.js';
import { opentelemetry, otelCore, otelInstrumentation } from './otel.js';
import { createInstrumentations, type InstrumentationHooks } from './tracing/instrumentations.js';
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

/** The running pipeline. */
export interface Telemetry {
  readonly resource: Resource;
  readonly tracerProvider: TracerProvider | undefined;
  readonly metrics: MetricsPipeline | undefined;
  readonly loggerProvider: LoggerProvider | undefined;
  readonly instrumentations: readonly Instrumentation[];
  /** True when `@opentelemetry/instrumentation-pino` is active (it then correlates every pino logger). */
  readonly pinoInstrumented: boolean;
  /**
   * Makes a context active for the rest of the current synchronous run; undefined when another
   * context manager was installed first (then only `context.with` works).
   */
  readonly enterContext: ((ctx: Context) => void) | undefined;
  /** Export everything buffered. Never rejects. */
  forceFlush(): Promise<void>;
  /** Flush and stop every provider. Never rejects. */
  shutdown(): Promise<void>;
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

function installDiag(level: DiagLevel): void {
  if (level === 'none') return;
  diag.setLogger(
    {
      error: (m, ...a) => diagnose('error', `opentelemetry: ${format(m, a)}`),
      warn: (m, ...a) => diagnose('warn', `opentelemetry: ${format(m, a)}`),
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
 * Start the pipeline. With `config.disabled` only the context manager is installed (so request ids
 * still reach log lines) and every signal is a no-op.
 */
export function startTelemetry(config: ObsConfig, hooks: InstrumentationHooks): Telemetry {
  installDiag(config.diagLevel);
  const contextManager = new RequestContextManager().enable();
  let enterContext: ((ctx: Context) => void) | undefined = (ctx) => contextManager.enter(ctx);
  if (!context.setGlobalContextManager(contextManager)) {
    contextManager.disable();
    enterContext = undefined;
  }

  const resource = createResource(config);
  if (config.disabled) {
    return {
      resource,
      tracerProvider: undefined,
      metrics: undefined,
      loggerProvider: undefined,
      instrumentations: [],
      pinoInstrumented: false,
      enterContext,
      forceFlush: async () => {},
      shutdown: async () => {},
    };
  }

  propagation.setGlobalPropagator(createPropagator(config));
  const tracerProvider = createTracerProvider(config, resource);
  if (tracerProvider) trace.setGlobalTracerProvider(tracerProvider);
  const metricsPipeline = createMetricsPipeline(config, resource);
  metrics.setGlobalMeterProvider(metricsPipeline.meterProvider);
  const loggerProvider = createLoggerProvider(config, resource);
  if (loggerProvider) logs.setGlobalLoggerProvider(loggerProvider);

  const instrumentations = createInstrumentations(config.instrumentations, {
    ...hooks,
    logSending: loggerProvider !== undefined,
  });
  registerInstrumentations({
    instrumentations,
    ...(tracerProvider ? { tracerProvider } : {}),
    meterProvider: metricsPipeline.meterProvider,
    ...(loggerProvider ? { loggerProvider } : {}),
  });

  return {
    resource,
    tracerProvider,
    metrics: metricsPipeline,
    loggerProvider,
    instrumentations,
    pinoInstrumented: config.instrumentations.includes('pino'),
    enterContext,
    async forceFlush() {
      await Promise.all([
        settle('flushing spans', tracerProvider?.forceFlush()),
        settle('flushing metrics', metricsPipeline.forceFlush()),
        settle('flushing log records', loggerProvider?.forceFlush()),
      ]);
    },
    async shutdown() {
      for (const instrumentation of instrumentations) instrumentation.disable();
      await Promise.all([
        settle('shutting down tracing', tracerProvider?.shutdown()),
        settle('shutting down metrics', metricsPipeline.shutdown()),
        settle('shutting down log export', loggerProvider?.shutdown()),
      ]);
    },
  };
}
