/**
 * The meter provider and its readers: a Prometheus reader that renders the exposition on demand (the
 * adapters serve it on the app's own port; a standalone server starts only when
 * `OTEL_EXPORTER_PROMETHEUS_PORT` is set), plus periodic OTLP or console push when
 * `OTEL_METRICS_EXPORTER` asks for it. The exposition is OpenMetrics 1.0 with exemplars when the
 * scrape's `Accept` header asks for it (./openmetrics.ts, ./exemplars.ts), else the text format 0.0.4.
 */
import type { Server } from 'node:http';
import type { Resource } from '@opentelemetry/resources';
import type { IMetricReader, MeterProvider, PushMetricExporter } from '@opentelemetry/sdk-metrics';
import type { ObsConfig } from '../config/resolve.js';
import { DATA_VIEWS } from '../data/pools.js';
import { diagnose } from '../diag.js';
import { dropReason, recordDropped } from '../export-health.js';
import { load } from '../lazy.js';
import { sdkMetrics } from '../otel.js';
import { createOtlpExporter } from '../otlp.js';
import { type ClusterAggregation, isClusterWorker, snapshotExemplars, startClusterAggregation } from './cluster.js';
import { ExemplarRegistry, exemplarMeterProvider } from './exemplars.js';
import {
  type ExemplarSource,
  OPENMETRICS_CONTENT_TYPE,
  prefersOpenMetrics,
  serializeOpenMetrics,
} from './openmetrics.js';

const { ConsoleMetricExporter, PeriodicExportingMetricReader } = sdkMetrics;

// Required as CommonJS: the package's ES build imports `http`, and an ES import of a builtin reads
// every export, including node:http's lazy `WebSocket` getter that loads undici (~40 ms of start-up).
const { PrometheusExporter, PrometheusSerializer } = load(
  '@opentelemetry/exporter-prometheus',
) as typeof import('@opentelemetry/exporter-prometheus');

/** Content type of the Prometheus text exposition format 0.0.4. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** A rendered scrape. */
export interface Exposition {
  contentType: string;
  body: string;
}

/** The running metrics pipeline. */
export interface MetricsPipeline {
  readonly meterProvider: MeterProvider;
  /**
   * Collect and render the exposition: OpenMetrics 1.0 (with exemplars) when `accept` (the scrape's
   * `Accept` header) prefers it, else the Prometheus text format 0.0.4. Never rejects: a failure
   * renders as a comment.
   */
  render(accept?: string): Promise<Exposition>;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

const TEMPORALITY = { cumulative: 1, delta: 0, lowmemory: 2 } as const;

function createPushExporter(config: ObsConfig, kind: 'otlp' | 'console'): PushMetricExporter {
  if (kind === 'console') return new ConsoleMetricExporter();
  return countingDrops(
    createOtlpExporter<PushMetricExporter>('metrics', config.metrics.otlp, {
      temporalityPreference: TEMPORALITY[config.metrics.temporality],
    }),
  );
}

/** `exporter`, with the data points of each failed export counted as dropped (../export-health.ts). */
function countingDrops(exporter: PushMetricExporter): PushMetricExporter {
  const exportBatch = exporter.export.bind(exporter);
  exporter.export = (metrics, resultCallback) =>
    exportBatch(metrics, (result) => {
      if (result.code !== 0) {
        const points = metrics.scopeMetrics.reduce(
          (sum, scope) => sum + scope.metrics.reduce((n, metric) => n + metric.dataPoints.length, 0),
          0,
        );
        recordDropped('metrics', dropReason(result.error), points);
      }
      resultCallback(result);
    });
  return exporter;
}

/** Build the meter provider with the Prometheus reader and any push readers. */
export function createMetricsPipeline(config: ObsConfig, resource: Resource): MetricsPipeline {
  const { prometheus: promConfig } = config.metrics;
  // The exporter only collects; the scrapes are rendered here (OpenMetrics or 0.0.4, cluster-wide).
  const prometheus = new PrometheusExporter({ preventServerStart: true });
  const readers: IMetricReader[] = [prometheus];
  const interval = config.metrics.exportIntervalMs;
  for (const kind of config.metrics.exporters) {
    readers.push(
      new PeriodicExportingMetricReader({
        exporter: createPushExporter(config, kind),
        exportIntervalMillis: interval,
        // The SDK throws when the timeout exceeds the interval; clamp instead.
        exportTimeoutMillis: Math.min(config.metrics.exportTimeoutMs, interval),
      }),
    );
  }
  const meterProvider = new sdkMetrics.MeterProvider({ resource, readers, views: DATA_VIEWS });
  const filter = config.metrics.exemplarFilter;
  const exemplars = filter === 'always_off' ? undefined : new ExemplarRegistry(filter);
  if (exemplars) exemplarMeterProvider(meterProvider, exemplars);
  const exemplarsOf = exemplars ? exemplars.exemplars.bind(exemplars) : undefined;
  const serializer = new PrometheusSerializer();
  const collect = async () => {
    const { resourceMetrics, errors } = await prometheus.collect();
    if (errors.length > 0) diagnose('warn', `metrics collection reported ${errors.length} error(s)`);
    return resourceMetrics;
  };
  // node:cluster and PM2 cluster workers answer for the whole service (./cluster.ts)
  const cluster: ClusterAggregation | undefined = isClusterWorker()
    ? startClusterAggregation(config.serviceName, (own) => snapshotExemplars(own, exemplarsOf), collect)
    : undefined;

  const render = async (accept?: string): Promise<Exposition> => {
    const openMetrics = prefersOpenMetrics(accept);
    const contentType = openMetrics ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE;
    try {
      let resourceMetrics = await collect();
      let exemplarSource: ExemplarSource | undefined = exemplarsOf;
      if (cluster) {
        const view = await cluster.gather(resourceMetrics);
        resourceMetrics = view.resourceMetrics;
        exemplarSource = view.exemplarsOf;
      }
      const body = openMetrics
        ? serializeOpenMetrics(resourceMetrics, exemplarSource)
        : serializer.serialize(resourceMetrics);
      return { contentType, body };
    } catch (err) {
      const comment = `# failed to collect metrics: ${err instanceof Error ? err.message : String(err)}\n`;
      return { contentType, body: openMetrics ? `${comment}# EOF\n` : comment };
    }
  };
  const server = promConfig.port === undefined ? undefined : startStandaloneServer(promConfig, render);

  return {
    meterProvider,
    render,
    forceFlush: () => meterProvider.forceFlush(),
    shutdown: async () => {
      if (server?.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
      await cluster?.close();
      await meterProvider.shutdown();
    },
  };
}

/** The path the standalone server answers (the Prometheus exporter's default). */
export const STANDALONE_METRICS_PATH = '/metrics';

/**
 * The standalone scrape server of `OTEL_EXPORTER_PROMETHEUS_PORT`: `GET /metrics` answers what the
 * app-port routes answer (`render`: OpenMetrics by `Accept` negotiation, else 0.0.4; the whole service
 * under node:cluster, whose workers share the port through the primary), anything else 404. It does
 * not keep the process alive. A failure to listen is one warning naming the variables. In a
 * node:cluster primary it closes when the first worker is forked.
 */
function startStandaloneServer(
  promConfig: { host: string; port?: number },
  render: (accept?: string) => Promise<Exposition>,
): Server {
  const { createServer } = load('node:http') as typeof import('node:http');
  const server = createServer((req, res) => {
    const q = req.url?.indexOf('?') ?? -1;
    const path = q === -1 ? req.url : req.url?.slice(0, q);
    if (path !== STANDALONE_METRICS_PATH || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.statusCode = 404;
      res.end();
      return;
    }
    void render(req.headers.accept).then(({ contentType, body }) => {
      res.setHeader('content-type', contentType);
      res.end(req.method === 'HEAD' ? undefined : body);
    });
  });
  server.on('error', (err: NodeJS.ErrnoException) => {
    const reason = typeof err.code === 'string' ? err.code : err.message;
    diagnose(
      'warn',
      `the standalone Prometheus server could not listen on ${promConfig.host}:${promConfig.port} (OTEL_EXPORTER_PROMETHEUS_HOST, OTEL_EXPORTER_PROMETHEUS_PORT): ${reason}; /metrics routes on the app's port still work`,
    );
  });
  server.listen(promConfig.port, promConfig.host);
  server.unref();
  // A node:cluster primary started with the preload serves no requests of its own: once it forks,
  // it leaves the port to its workers (they share it through the primary, and each answers for the
  // whole service, ./cluster.ts).
  const cluster = load('node:cluster') as typeof import('node:cluster').default;
  const leave = () => server.close();
  if (cluster.isPrimary) cluster.once('fork', () => (server.listening ? leave() : server.once('listening', leave)));
  return server;
}
