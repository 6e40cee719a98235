/**
 * Optional OTLP export of log records (`OTEL_LOGS_EXPORTER=otlp`). pino lines reach it through
 * `@opentelemetry/instrumentation-pino`, which forwards each record with its trace and span ids.
 * Batched with `OTEL_BLRP_*`: a bounded queue, so a collector that is down costs records, not memory.
 */
import type { Resource } from '@opentelemetry/resources';
import type { LoggerProvider, LogRecordExporter } from '@opentelemetry/sdk-logs';
import type { ObsConfig } from '../config/resolve.js';
import { load } from '../lazy.js';
import { createOtlpExporter, deferredExporter } from '../otlp.js';

/** The logger provider, or undefined when no log exporter is configured. */
export function createLoggerProvider(config: ObsConfig, resource: Resource): LoggerProvider | undefined {
  if (config.logs.exporters.length === 0) return undefined;
  // required only when logs are exported (CommonJS: see ../otel.ts)
  const { BatchLogRecordProcessor, ConsoleLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } = load(
    '@opentelemetry/sdk-logs',
  ) as typeof import('@opentelemetry/sdk-logs');
  const { batch } = config.logs;
  const processors = config.logs.exporters.map((kind) => {
    if (kind === 'console') return new SimpleLogRecordProcessor({ exporter: new ConsoleLogRecordExporter() });
    const exporter = deferredExporter(() =>
      createOtlpExporter<LogRecordExporter>('logs', config.logs.otlp),
    ) as LogRecordExporter;
    return new BatchLogRecordProcessor({
      exporter,
      scheduledDelayMillis: batch.scheduledDelayMs,
      exportTimeoutMillis: batch.exportTimeoutMs,
      maxQueueSize: batch.maxQueueSize,
      maxExportBatchSize: batch.maxExportBatchSize,
    });
  });
  return new LoggerProvider({ resource, processors });
}
