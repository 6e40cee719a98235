// What the exemplar reservoir costs per record and what the OpenMetrics rendering costs per scrape:
// `node src/exemplars.mjs` (after `pnpm build`). It records http.server.request.duration into 40
// series with frozen, cached attribute objects, as @obs/core's request observer does: first into a
// histogram that records nothing, bare and wrapped by the exemplar code (what the exemplars alone add:
// the filter's early return for an unsampled span, a stored exemplar for a sampled one), then through
// @obs's real metrics pipeline (OTEL_METRICS_EXEMPLAR_FILTER always_off: the SDK histogram alone, and
// trace_based with an unsampled and a sampled span). Variants are interleaved over several rounds; the median of the
// rounds is printed in ns per record. Then it renders 2,000 histogram series as text 0.0.4 and as
// OpenMetrics with exemplars.
import { createRequire } from 'node:module';
// internal modules of @obs/core (not exported): the pipeline as the preload builds it
import { resolveConfig } from '../../core/dist/config/resolve.js';
import { ExemplarRegistry, exemplarMeterProvider } from '../../core/dist/metrics/exemplars.js';
import { METRICS } from '../../core/dist/metrics/names.js';
import { createMetricsPipeline } from '../../core/dist/metrics/pipeline.js';

// the OpenTelemetry packages @obs/core itself loads (CommonJS builds)
const coreRequire = createRequire(new URL('../../core/package.json', import.meta.url));
const { ROOT_CONTEXT, TraceFlags, trace } = coreRequire('@opentelemetry/api');
const { resourceFromAttributes } = coreRequire('@opentelemetry/resources');

const RECORDS = 500_000;
const ROUNDS = 9;
const SERIES = 40;
const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

function pipelineWith(filter) {
  const config = resolveConfig({}, { OTEL_SERVICE_NAME: 'bench', OTEL_METRICS_EXEMPLAR_FILTER: filter });
  const pipeline = createMetricsPipeline(config, resourceFromAttributes({ 'service.name': 'bench' }));
  const def = METRICS.httpServerRequestDuration;
  const histogram = pipeline.meterProvider
    .getMeter('@obs/core')
    .createHistogram(def.name, { unit: def.unit, advice: { explicitBucketBoundaries: [...def.buckets] } });
  return { pipeline, histogram };
}

function contextWith(sampled) {
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
  });
}

const attributeSets = Array.from({ length: SERIES }, (_, i) =>
  Object.freeze({
    'http.request.method': i % 2 ? 'GET' : 'POST',
    'url.scheme': 'http',
    'network.protocol.version': '1.1',
    'http.route': `/api/v1/route-${i % 20}`,
    'http.response.status_code': 200,
  }),
);

/** The exemplar code alone: a histogram that records nothing, wrapped as the pipeline wraps the SDK's. */
function noopWith(filter) {
  const noop = { record() {} };
  const provider = { getMeter: () => ({ createHistogram: () => noop }) };
  if (filter !== 'always_off') exemplarMeterProvider(provider, new ExemplarRegistry(filter));
  const def = METRICS.httpServerRequestDuration;
  return {
    pipeline: { shutdown: async () => {} },
    histogram: provider
      .getMeter('@obs/core')
      .createHistogram(def.name, { advice: { explicitBucketBoundaries: [...def.buckets] } }),
  };
}

const variants = {
  'no-op histogram, no exemplars': { ...noopWith('always_off'), ctx: contextWith(true) },
  'no-op histogram, trace_based, span not sampled': { ...noopWith('trace_based'), ctx: contextWith(false) },
  'no-op histogram, trace_based, span sampled': { ...noopWith('trace_based'), ctx: contextWith(true) },
  'always_off (SDK histogram only)': { ...pipelineWith('always_off'), ctx: contextWith(true) },
  'trace_based, span not sampled': { ...pipelineWith('trace_based'), ctx: contextWith(false) },
  'trace_based, span sampled (exemplar kept)': { ...pipelineWith('trace_based'), ctx: contextWith(true) },
};

/** CPU time (user + system, so other processes on a busy machine count less) per record, in ns. */
function measure({ histogram, ctx }) {
  const start = process.cpuUsage();
  for (let i = 0; i < RECORDS; i++) {
    histogram.record((i % 1000) / 2000, attributeSets[i % SERIES], ctx);
  }
  const { user, system } = process.cpuUsage(start);
  return ((user + system) * 1000) / RECORDS;
}

const results = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
for (const variant of Object.values(variants)) measure(variant); // warm-up
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, variant] of Object.entries(variants)) results[name].push(measure(variant));
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`record(), ns of CPU per call (median of ${ROUNDS} rounds of ${RECORDS.toLocaleString()}):`);
for (const [name, xs] of Object.entries(results)) console.log(`  ${name}: ${median(xs).toFixed(1)}`);

// rendering: 2,000 series, each with exemplars
const { pipeline, histogram } = pipelineWith('trace_based');
const ctx = contextWith(true);
for (let i = 0; i < 2000; i++) {
  const attributes = Object.freeze({
    'http.request.method': 'GET',
    'http.route': `/r/${i}`,
    'http.response.status_code': 200,
  });
  for (let j = 0; j < 10; j++) histogram.record(j / 10, attributes, ctx);
}
for (const [label, accept] of [
  ['text 0.0.4', undefined],
  ['OpenMetrics with exemplars', PROMETHEUS_ACCEPT],
]) {
  const times = [];
  let bytes = 0;
  for (let i = 0; i < 21; i++) {
    const start = performance.now();
    bytes = (await pipeline.render(accept)).body.length;
    times.push(performance.now() - start);
  }
  console.log(
    `render 2,000 histogram series, ${label}: median ${median(times.slice(1)).toFixed(1)} ms, ${bytes} bytes`,
  );
}
for (const variant of Object.values(variants)) await variant.pipeline.shutdown();
await pipeline.shutdown();
