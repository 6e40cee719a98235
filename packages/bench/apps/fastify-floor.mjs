// The floor of issue #14's design on Fastify 5: the bare app plus only what every request must pay
// for a span per request with the OpenTelemetry SDK (one `http.server.request.start` subscriber, one
// SERVER span with the stable attributes, ended at `close`, BatchSpanProcessor + OTLP/protobuf to
// the sink). No context propagation, no metric, no log line, unless FLOOR_METRIC=1 / FLOOR_LOG=1
// add a histogram record (cached attributes) and a pino completion line to stdout.
// Not an @obs variant: it bounds what any design built on the SDK can reach (docs/performance.md).
import { subscribe } from 'node:diagnostics_channel';
import { createRequire } from 'node:module';
import Fastify from 'fastify';
import pino from 'pino';

const require = createRequire(createRequire(import.meta.url).resolve('@obs/core'));
const { TracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
const { MeterProvider } = require('@opentelemetry/sdk-metrics');
const { SpanKind } = require('@opentelemetry/api');

const provider = new TracerProvider({
  spanProcessors: [
    new BatchSpanProcessor({
      exporter: new OTLPTraceExporter({ url: `${process.env.OTEL_EXPORTER_OTLP_ENDPOINT}/v1/traces` }),
    }),
  ],
});
const tracer = provider.getTracer('floor');
const histogram = process.env.FLOOR_METRIC
  ? new MeterProvider().getMeter('floor').createHistogram('http.server.request.duration', { unit: 's' })
  : undefined;
const attrCache = new Map();
const log = process.env.FLOOR_LOG ? pino(pino.destination({ dest: 1, sync: false })) : undefined;

function onClose() {
  const { span, t0, req } = this.__floor;
  const status = this.statusCode;
  span.setAttribute('http.response.status_code', status);
  span.end();
  if (histogram) {
    const key = `${req.method} ${status}`;
    let attrs = attrCache.get(key);
    if (!attrs) {
      attrs = { 'http.request.method': req.method, 'http.route': '/users/:id', 'http.response.status_code': status };
      attrCache.set(key, attrs);
    }
    histogram.record((performance.now() - t0) / 1000, attrs);
  }
  if (log)
    log.info({ method: req.method, url: req.url, status, duration_ms: performance.now() - t0 }, 'request completed');
}

subscribe('http.server.request.start', ({ request, response }) => {
  const span = tracer.startSpan(`${request.method} /users/:id`, {
    kind: SpanKind.SERVER,
    attributes: {
      'http.request.method': request.method,
      'url.path': request.url,
      'url.scheme': 'http',
      'server.address': '127.0.0.1',
      'network.protocol.version': '1.1',
      'http.route': '/users/:id',
    },
  });
  response.__floor = { span, t0: performance.now(), req: request };
  response.once('close', onClose);
});

const app = Fastify({
  loggerInstance: pino(pino.destination({ dest: '/dev/null', sync: false })),
  disableRequestLogging: true,
});
app.get('/users/:id', async (request) => {
  request.log.info({ user: request.params.id }, 'looking up user');
  return { id: request.params.id };
});
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
