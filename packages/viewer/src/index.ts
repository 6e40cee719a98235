/**
 * @obs/viewer: `obs dev`, a local telemetry viewer. One process holds an OTLP/HTTP receiver
 * (default 127.0.0.1:4318), an embedded node:sqlite store and a web UI (default 127.0.0.1:4319) with
 * traces, logs and metrics.
 *
 * @packageDocumentation
 */
export {
  deltas,
  histogramQuantile,
  type MetricChart,
  metricChart,
  type RouteSeries,
  routeSeries,
} from './metric-series.js';
export {
  DEFAULT_MAX_AGE_MS,
  DEFAULT_MAX_BYTES,
  type LogFilter,
  type StoredLog,
  type StoredPoint,
  type StoredSpan,
  type StoreOptions,
  type StoreStats,
  TelemetryStore,
  type TraceFilter,
  type TraceSummary,
} from './store.js';
export {
  DEFAULT_OTLP_PORT,
  DEFAULT_UI_PORT,
  hostAllowed,
  isLoopback,
  startViewer,
  type Viewer,
  type ViewerOptions,
} from './viewer.js';
