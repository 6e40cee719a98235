/**
 * Optional OTLP export of log records (`OTEL_LOGS_EXPORTER=otlp`). pino lines reach it through
 * `@opentelemetry/instrumentation-pino`, which forwards each record with its trace and span ids.
 * Batched with `OTEL_BLRP_*`: a bounded queue, so a collector that is down costs records, not memory.
 */
import type { Resource } from '@opentelemetry/resources';
import type { LoggerProvider, LogRecordExporter } from '@opentelemetry/sdk-logs';
import type { ObsConfig } from '../config/resolve.js';
import { queueDropListener } from '../export-health.js';
import { load } from '../lazy.js';
import { createOtlpExporter, deferredExporter, type ExitTarget, MIN_DETACH_MS } from '../otlp.js';

/** The logger provider and what its OTLP batch processors hold, for the exit-time export. */
export interface LogExport {
  provider: LoggerProvider;
  /**
   * Take the log records queued in the OTLP batch processors (not yet handed to the exporter). The
   * processors of sdk-logs 3.x pass batches to the exporter only asynchronously, so at exit the queue
   * is read directly (its `_finishedLogRecords` array; an SDK without it yields nothing).
   */
  takeQueued(): { target: ExitTarget; items: unknown[] }[];
}

/** The logger provider, or undefined when no log exporter is configured. */
export function createLoggerProvider(config: ObsConfig, resource: Resource): LogExport | undefined {
  if (config.logs.exporters.length === 0) return undefined;
  // required only when logs are exported (CommonJS: see ../otel.ts)
  const { BatchLogRecordProcessor, ConsoleLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } = load(
    '@opentelemetry/sdk-logs',
  ) as typeof import('@opentelemetry/sdk-logs');
  const { batch } = config.logs;
  const target: ExitTarget = { signal: 'logs', otlp: config.logs.otlp };
  const batching: { _finishedLogRecords?: unknown }[] = [];
  const processors = config.logs.exporters.map((kind) => {
    if (kind === 'console') return new SimpleLogRecordProcessor({ exporter: new ConsoleLogRecordExporter() });
    const exporter = deferredExporter(() => createOtlpExporter<LogRecordExporter>('logs', config.logs.otlp), {
      ...target,
      detachAfterMs: Math.max(batch.scheduledDelayMs, MIN_DETACH_MS),
    }) as LogRecordExporter;
    const processor = new BatchLogRecordProcessor({
      exporter,
      scheduledDelayMillis: batch.scheduledDelayMs,
      exportTimeoutMillis: batch.exportTimeoutMs,
      maxQueueSize: batch.maxQueueSize,
      maxExportBatchSize: batch.maxExportBatchSize,
      selfObsMeterProvider: queueDropListener('logs'),
    });
    batching.push(processor as unknown as { _finishedLogRecords?: unknown });
    return processor;
  });
  return {
    provider: new LoggerProvider({
      resource,
      processors,
      // OTEL_LOGRECORD_ATTRIBUTE_{COUNT,VALUE_LENGTH}_LIMIT; unset ones keep the SDK's defaults
      logRecordLimits: Object.fromEntries(Object.entries(config.logs.limits).filter(([, v]) => v !== undefined)),
    }),
    takeQueued: () =>
      batching.flatMap((processor) => {
        const queued = processor._finishedLogRecords;
        if (!Array.isArray(queued) || queued.length === 0) return [];
        processor._finishedLogRecords = [];
        return [{ target, items: queued as unknown[] }];
      }),
  };
}
