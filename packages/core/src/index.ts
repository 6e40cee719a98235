/**
 * @obs/core: OpenTelemetry-first observability for Node.js services. Framework-agnostic: adapters
 * (`@obs/express`, ...) call the request observer and mount the health and metrics routes.
 */
export {
  type BatchConfig,
  type Env,
  INSTRUMENTATION_NAMES,
  type InstrumentationName,
  type LogLevel,
  type ObsConfig,
  type ObsOptions,
  type OtlpSignalConfig,
  type PropagatorName,
  resolveConfig,
  type SamplerName,
} from './config/resolve.js';
export { activeRequestId } from './context.js';
export { captureDiagnostics } from './diag.js';
export {
  type CheckResult,
  type HealthCheck,
  HealthRegistry,
  type HealthReport,
  type HealthResponse,
  type ProbeKind,
} from './health/registry.js';
export { type BeginOptions, type ObservedRequest, RequestObserver } from './http/observer.js';
export { isWellFormedRequestId, REQUEST_ID_HEADER, requestIdFrom } from './http/request-id.js';
export type { ShutdownHook } from './lifecycle/lifecycle.js';
export { createLogger, type LoggerSetup, loggerOptions, type ObsLogger } from './logging/logger.js';
export { createRedactor, DEFAULT_REDACT_KEYS, REDACTED, type Redactor } from './logging/redact.js';
export type {
  Counter,
  Gauge,
  Histogram,
  HistogramOptions,
  InstrumentOptions,
  Labels,
  LabelValue,
  UpDownCounter,
} from './metrics/instruments.js';
export {
  HTTP_DURATION_BUCKETS,
  METRICS,
  type MetricDefinition,
  type MetricKind,
  toPrometheusName,
} from './metrics/names.js';
export { type Exposition, PROMETHEUS_CONTENT_TYPE } from './metrics/pipeline.js';
export { getObs, isStarted, type Obs, start } from './obs.js';
export { ESM_HOOKED_MODULES } from './tracing/instrumentations.js';
export { recordError, type SpanOptions, withSpan } from './tracing/spans.js';
