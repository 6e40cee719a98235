/**
 * What the request observer records server requests with, built once from the configuration: the
 * tracer of SERVER spans, the `http.server.request.duration` histogram (semconv name, unit `s` and
 * bucket advice, from ../metrics/names.ts), its attribute cache and the query-string redaction.
 */
import type { ObsConfig } from '../config/resolve.js';
import { createTextRedaction } from '../logging/redact-text.js';
import { METRICS } from '../metrics/names.js';
import { opentelemetry } from '../otel.js';
import type { ServerTelemetry } from './observation.js';
import { MetricAttributeCache } from './server-attributes.js';

const { metrics, trace } = opentelemetry;

/** Instrumentation scope of the SERVER spans and the server metric. */
export const HTTP_SERVER_SCOPE = '@obs/core';

/**
 * Build the server telemetry. @obs makes the SERVER spans and the metric unless the SDK is disabled,
 * the `http` instrumentation is not enabled, or `OBS_HTTP_SERVER_INSTRUMENTATION=otel` leaves them to
 * `@opentelemetry/instrumentation-http`. Call after the global providers are installed.
 */
export function serverTelemetry(config: ObsConfig): ServerTelemetry {
  const def = METRICS.httpServerRequestDuration;
  const meter = metrics.getMeter(HTTP_SERVER_SCOPE);
  return {
    ownsServerSpan:
      !config.disabled && config.instrumentations.includes('http') && config.httpServerInstrumentation === 'obs',
    passesContextOn: config.disabled && config.propagators.length > 0,
    tracer: trace.getTracer(HTTP_SERVER_SCOPE),
    duration: meter.createHistogram(def.name, {
      description: def.description,
      unit: def.unit,
      advice: { explicitBucketBoundaries: [...(def.buckets ?? [])] },
    }),
    metricAttributes: new MetricAttributeCache(),
    // the logs' key rule (../logging/redact-text.ts), as for every span at export
    redactQuery: createTextRedaction(config.logs.redactKeys).scrubQuery,
  };
}
