/**
 * @obs/core: OpenTelemetry-first observability for Node.js services. Framework-agnostic: adapters
 * (`@obs/express`, ...) call the request observer and mount the health and metrics routes.
 */
export {
  type BatchConfig,
  DEFAULT_INSTRUMENTATIONS,
  type Env,
  HTTP_LOG_FIELDS,
  type HttpLogField,
  INSTRUMENTATION_NAMES,
  type InstrumentationName,
  instrumentationShortName,
  type LogLevel,
  type ObsConfig,
  type ObsOptions,
  OPT_IN_INSTRUMENTATIONS,
  type OtlpSignalConfig,
  type PropagatorName,
  resolveConfig,
  type SamplerName,
  type SentryOptions,
} from './config/resolve.js';
export { activeRequestId } from './context.js';
export {
  type AmqpChannelSource,
  type AmqpConsumerChannel,
  type AmqpMessage,
  type AmqpQueueChannel,
  type Cache,
  type CacheCounter,
  type CacheResult,
  type CacheStore,
  type ConsumeOptions,
  type DataTelemetry,
  type PoolOptions,
  type QueueDepthOptions,
  type QueueDepthWatch,
  type SqlDialect,
  type SqlSummary,
  sanitizeSql,
  summarizeSql,
} from './data/index.js';
export { captureDiagnostics } from './diag.js';
export type {
  CaptureOptions,
  ErrorReporting,
  SentryBeforeSend,
  SentryEvent,
  SentryEventHint,
} from './errors/types.js';
export {
  type AmqpConnectionLike,
  amqpCheck,
  type CheckOptions,
  type HttpCheckOptions,
  httpCheck,
  type MysqlCheckOptions,
  type MysqlQueryable,
  mysqlCheck,
  type PgQueryable,
  type PostgresCheckOptions,
  postgresCheck,
  type RedisPingable,
  redisCheck,
  type SqlClient,
} from './health/checks/index.js';
export {
  type CheckResult,
  type HealthCheck,
  HealthCheckError,
  HealthRegistry,
  type HealthReport,
  type HealthResponse,
  type HealthSettings,
  type HealthStatus,
  type ProbeKind,
  summariseError,
} from './health/registry.js';
export { type CompletionFields, clientAddress } from './http/completion-fields.js';
export { errorMessage, errorStatus } from './http/errors.js';
export { managementServer } from './http/management-server.js';
export {
  managementAddressOf,
  type ObsAnswer,
  type ObsRoute,
  type ObsRoutePaths,
  type ObsRouteSources,
  obsRouteAnswers,
  obsRouteTable,
} from './http/obs-routes.js';
export { type BeginOptions, type ObservedRequest, RequestObserver } from './http/observer.js';
export { isWellFormedRequestId, REQUEST_ID_HEADER, requestIdFrom } from './http/request-id.js';
export type { LifecycleControl, ServerOptions, ShutdownHook } from './lifecycle/lifecycle.js';
export { servingOn } from './lifecycle/serving.js';
export { type AppLoggerOptions, shapeLogger } from './logging/app-logger.js';
export {
  createLogger,
  type LoggerSetup,
  type LogTransport,
  loggerOptions,
  type ObsLogger,
  useLogStream,
  useLogTransport,
} from './logging/logger.js';
export { createKeyMatcher, createRedactor, DEFAULT_REDACT_KEYS, REDACTED, type Redactor } from './logging/redact.js';
export { createTextRedaction, type TextRedaction, type TextRedactionOptions } from './logging/redact-text.js';
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
export { opentelemetry } from './otel.js';
export { ESM_HOOKED_MODULES, esmHookedModules, runningInstrumentations } from './tracing/instrumentations.js';
export { recordError, type SpanOptions, withSpan } from './tracing/spans.js';
