/**
 * OTLP exporters for the three signals, over HTTP with protobuf (`http/protobuf`, the default) or
 * JSON (`http/json`) bodies, configured from the resolved per-signal settings. The exporter package
 * is required only when a signal uses it.
 */
import type { OtlpSignalConfig } from './config/resolve.js';
import { load } from './lazy.js';

const EXPORTERS = {
  traces: {
    proto: '@opentelemetry/exporter-trace-otlp-proto',
    json: '@opentelemetry/exporter-trace-otlp-http',
    name: 'OTLPTraceExporter',
  },
  metrics: {
    proto: '@opentelemetry/exporter-metrics-otlp-proto',
    json: '@opentelemetry/exporter-metrics-otlp-http',
    name: 'OTLPMetricExporter',
  },
  logs: {
    proto: '@opentelemetry/exporter-logs-otlp-proto',
    json: '@opentelemetry/exporter-logs-otlp-http',
    name: 'OTLPLogExporter',
  },
} as const;

/**
 * Create the OTLP exporter for `signal`.
 * @param extra exporter-specific options (e.g. `temporalityPreference` for metrics)
 * @returns an instance of the signal's `OTLP*Exporter`; the caller knows its interface
 */
export function createOtlpExporter<T>(
  signal: keyof typeof EXPORTERS,
  otlp: OtlpSignalConfig,
  extra: Record<string, unknown> = {},
): T {
  const spec = EXPORTERS[signal];
  const mod = load(otlp.protocol === 'http/json' ? spec.json : spec.proto) as Record<string, new (o: object) => T>;
  const Exporter = mod[spec.name] as new (o: object) => T;
  return new Exporter({
    url: otlp.url,
    headers: otlp.headers,
    timeoutMillis: otlp.timeoutMs,
    compression: otlp.compression,
    ...extra,
  });
}
