/**
 * `rpc.server.call.duration` and `rpc.client.call.duration` (stable RPC semantic conventions,
 * seconds) for gRPC: `@opentelemetry/instrumentation-grpc` makes a SERVER span per call served and
 * a CLIENT span per call made but records no metric, so each of its spans is measured here, from
 * start to end, whether or not it is sampled.
 *
 * Labels, all bounded: `rpc.system.name` (`grpc`), `rpc.method` (`package.Service/Method`, from the
 * service definitions: grpc-js routes no other method to a handler), `rpc.status_code` (the gRPC
 * status name, `OK`, `NOT_FOUND`, ...) and, for clients, `server.address`.
 */
import type { Attributes, AttributeValue, Span, SpanOptions, Tracer, TracerProvider } from '@opentelemetry/api';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { histogram, METRICS } from '../data/meter.js';
import { opentelemetry } from '../otel.js';

const { SpanKind, trace } = opentelemetry;

/** gRPC status names by code (grpc/doc/statuscodes.md). */
const GRPC_STATUS = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;

/** The metric labels from the attributes instrumentation-grpc set on a span (it uses the older `rpc.*` names). */
export function rpcLabels(attrs: Attributes, client: boolean): Attributes {
  const service = attrs['rpc.service'];
  const method = attrs['rpc.method'];
  const code = attrs['rpc.grpc.status_code'];
  const labels: Attributes = {
    'rpc.system.name': 'grpc',
    'rpc.method': typeof service === 'string' && typeof method === 'string' ? `${service}/${method}` : '_OTHER',
    'rpc.status_code': typeof code === 'number' ? (GRPC_STATUS[code] ?? String(code)) : 'UNKNOWN',
  };
  if (client && typeof attrs['server.address'] === 'string') labels['server.address'] = attrs['server.address'];
  else if (client && typeof attrs['net.peer.name'] === 'string') labels['server.address'] = attrs['net.peer.name'];
  return labels;
}

/** The span, seen through a proxy that keeps its attributes and records the duration once at its end. */
function measure(span: Span, client: boolean): Span {
  const started = performance.now();
  const attrs: Attributes = {};
  let ended = false;
  const proxy: Span = new Proxy(span, {
    get(target, prop) {
      if (prop === 'setAttribute') {
        return (key: string, value: AttributeValue) => {
          attrs[key] = value;
          target.setAttribute(key, value);
          return proxy;
        };
      }
      if (prop === 'setAttributes') {
        return (values: Attributes) => {
          Object.assign(attrs, values);
          target.setAttributes(values);
          return proxy;
        };
      }
      if (prop === 'end') {
        return (...args: Parameters<Span['end']>) => {
          if (!ended) {
            ended = true;
            const def = client ? METRICS.rpcClientCallDuration : METRICS.rpcServerCallDuration;
            histogram(def).record((performance.now() - started) / 1000, rpcLabels(attrs, client));
          }
          target.end(...args);
        };
      }
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const result = (value as (...a: unknown[]) => unknown).apply(target, args);
        return result === target ? proxy : result;
      };
    },
  });
  return proxy;
}

class MeasuringTracer implements Tracer {
  constructor(private readonly inner: Tracer) {}
  startSpan(name: string, options?: SpanOptions, ctx?: Parameters<Tracer['startSpan']>[2]): Span {
    const span = this.inner.startSpan(name, options, ctx);
    const kind = options?.kind;
    return kind === SpanKind.SERVER || kind === SpanKind.CLIENT ? measure(span, kind === SpanKind.CLIENT) : span;
  }
  startActiveSpan: Tracer['startActiveSpan'] = ((...args: Parameters<Tracer['startActiveSpan']>) =>
    (this.inner.startActiveSpan as (...a: unknown[]) => unknown)(...args)) as Tracer['startActiveSpan'];
}

/**
 * Make the instrumentation's SERVER and CLIENT spans record the RPC call duration metrics, whatever
 * tracer provider it is given later. instrumentation-grpc 0.300 starts every span with `startSpan`.
 */
export function measureRpcCalls<T extends Instrumentation>(instrumentation: T): T {
  const set = instrumentation.setTracerProvider.bind(instrumentation);
  instrumentation.setTracerProvider = (provider: TracerProvider) =>
    set({ getTracer: (...args) => new MeasuringTracer(provider.getTracer(...args)) });
  instrumentation.setTracerProvider(trace.getTracerProvider());
  return instrumentation;
}
