/**
 * The tracer provider: sampler from `OTEL_TRACES_SAMPLER`, batch span processing from `OTEL_BSP_*`
 * (bounded queue: a slow or absent collector drops spans, never grows memory), exporters from
 * `OTEL_TRACES_EXPORTER`, each fed redacted spans (./redact-spans.ts).
 */
import type { Resource } from '@opentelemetry/resources';
import type { Sampler, SpanExporter, SpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import type { ObsConfig } from '../config/resolve.js';
import { queueDropListener } from '../export-health.js';
import { load } from '../lazy.js';
import { createOtlpExporter, deferredExporter, MIN_DETACH_MS } from '../otlp.js';
import { redactingSpanExporter } from './redact-spans.js';

// CommonJS build: see ../otel.ts
const sdkTrace = load('@opentelemetry/sdk-trace') as typeof import('@opentelemetry/sdk-trace');
const {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
} = sdkTrace;

function createSampler(config: ObsConfig): Sampler {
  const ratio = config.traces.samplerRatio;
  switch (config.traces.sampler) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

function createSpanExporter(config: ObsConfig, kind: 'otlp' | 'console'): SpanExporter {
  if (kind === 'console') return new ConsoleSpanExporter();
  return deferredExporter(() => createOtlpExporter<SpanExporter>('traces', config.traces.otlp), {
    signal: 'traces',
    otlp: config.traces.otlp,
    detachAfterMs: Math.max(config.traces.batch.scheduledDelayMs, MIN_DETACH_MS),
  }) as SpanExporter;
}

/** The tracer provider, or undefined when `OTEL_TRACES_EXPORTER=none`. */
export function createTracerProvider(config: ObsConfig, resource: Resource): TracerProvider | undefined {
  if (config.traces.exporters.length === 0) return undefined;
  const { batch, limits } = config.traces;
  const spanProcessors: SpanProcessor[] = config.traces.exporters.map(
    (kind) =>
      new BatchSpanProcessor({
        exporter: redactingSpanExporter(createSpanExporter(config, kind), config.logs),
        scheduledDelayMillis: batch.scheduledDelayMs,
        exportTimeoutMillis: batch.exportTimeoutMs,
        maxQueueSize: batch.maxQueueSize,
        maxExportBatchSize: batch.maxExportBatchSize,
        // queue_full drops are counted in @obs's export health (./export-health.ts)
        selfObsMeterProvider: queueDropListener('traces'),
      }),
  );
  const spanLimits = Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined));
  return new sdkTrace.TracerProvider({
    resource,
    sampler: createSampler(config),
    spanLimits,
    spanProcessors,
  });
}
