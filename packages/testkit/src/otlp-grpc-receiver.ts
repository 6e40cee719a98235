/*
 * Embedded OTLP/gRPC receiver for integration tests: the three OTLP collector services
 * (`opentelemetry.proto.collector.{trace,metrics,logs}.v1.*Service/Export`) on a `@grpc/grpc-js`
 * server, with request bodies decoded by @obs/otlp-decode (the official OTLP .proto definitions),
 * as the OTLP/HTTP receiver does. A TCP relay in front of the gRPC server counts the bytes that
 * arrive on the wire, so a test can tell a gzip-compressed export from an uncompressed one.
 */
import { once } from 'node:events';
import { createConnection, createServer, type Socket } from 'node:net';
import {
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type ServiceDefinition,
  type sendUnaryData,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import {
  decodeExportRequest,
  preloadProtos,
  type ReceivedLog,
  type ReceivedMetric,
  type ReceivedSpan,
  type Signal,
} from '@obs/otlp-decode';
import { pollUntil, type WaitForOptions } from './otlp-receiver.js';

/** The OTLP collector service of each signal (opentelemetry-proto, `collector/*\/v1/*_service.proto`). */
const SERVICES: Record<Signal, string> = {
  traces: 'opentelemetry.proto.collector.trace.v1.TraceService',
  metrics: 'opentelemetry.proto.collector.metrics.v1.MetricsService',
  logs: 'opentelemetry.proto.collector.logs.v1.LogsService',
};

/** One `Export` call that reached the receiver. */
export interface ReceivedGrpcCall {
  signal: Signal;
  /** The call's metadata (custom headers), lowercase names; binary (`-bin`) entries are left out. */
  metadata: Record<string, string>;
  /** Size of the decompressed request message in bytes. */
  bytes: number;
}

/** Options of {@link startOtlpGrpcReceiver}. */
export interface OtlpGrpcReceiverOptions {
  /** Port to listen on. Default 0: an ephemeral port. */
  port?: number;
  /** Serve TLS with this key and certificate (PEM); the URL is then `https://`. Default: plaintext. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /**
   * gRPC status code to answer every call with, for failure tests (`@grpc/grpc-js` `status`).
   * Default 0 (OK). With another status, calls are recorded in `calls` but their telemetry is not stored.
   */
  respondWith?: number;
}

/** A running embedded OTLP/gRPC receiver; see {@link startOtlpGrpcReceiver}. */
export interface OtlpGrpcReceiver {
  /** The endpoint for `OTEL_EXPORTER_OTLP_ENDPOINT`, e.g. `http://127.0.0.1:4317` (`https://` with TLS). */
  readonly url: string;
  readonly port: number;
  /** Every span received so far, in arrival order. */
  readonly spans: ReceivedSpan[];
  /** Every log record received so far, in arrival order. */
  readonly logs: ReceivedLog[];
  /** Every metric received so far (one entry per metric per export), in arrival order. */
  readonly metrics: ReceivedMetric[];
  /** Every `Export` call, rejected ones included. */
  readonly calls: ReceivedGrpcCall[];
  /** Bytes received on the wire so far (all connections, TLS and HTTP/2 framing included). */
  readonly wireBytes: number;
  /** Polls `fn` until it returns a truthy value; rejects after `timeoutMs` (default 10000) with a summary. */
  waitFor<T>(fn: () => T | undefined | false, opts?: WaitForOptions): Promise<T>;
  /** Forgets everything received so far (the arrays are emptied in place, `wireBytes` is reset). */
  reset(): void;
  /** Stops the server and drops open connections. Safe to call twice. */
  close(): Promise<void>;
}

const raw = (buffer: Buffer) => buffer;

/**
 * Starts an OTLP/gRPC receiver on 127.0.0.1 (by default on an ephemeral port). It serves `Export`
 * of the trace, metrics and logs collector services, decodes each request into
 * {@link OtlpGrpcReceiver.spans}, {@link OtlpGrpcReceiver.logs} and {@link OtlpGrpcReceiver.metrics},
 * and answers with an empty export response (gzip-compressed requests are decompressed by
 * `@grpc/grpc-js`). An undecodable request is answered with INVALID_ARGUMENT.
 */
export async function startOtlpGrpcReceiver(opts: OtlpGrpcReceiverOptions = {}): Promise<OtlpGrpcReceiver> {
  preloadProtos();
  const respondWith = opts.respondWith ?? 0;
  const spans: ReceivedSpan[] = [];
  const logs: ReceivedLog[] = [];
  const metrics: ReceivedMetric[] = [];
  const calls: ReceivedGrpcCall[] = [];
  let wireBytes = 0;

  const server = new Server();
  for (const [signal, service] of Object.entries(SERVICES) as [Signal, string][]) {
    const definition: ServiceDefinition = {
      Export: {
        path: `/${service}/Export`,
        requestStream: false,
        responseStream: false,
        requestSerialize: raw,
        requestDeserialize: raw,
        responseSerialize: raw,
        responseDeserialize: raw,
      },
    };
    const implementation: UntypedServiceImplementation = {
      Export(call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) {
        const metadata: Record<string, string> = {};
        for (const [name, value] of Object.entries(call.metadata.getMap())) {
          if (typeof value === 'string') metadata[name] = value;
        }
        calls.push({ signal, metadata, bytes: call.request.length });
        if (respondWith !== 0) {
          callback({ code: respondWith, details: 'refused by the test receiver' });
          return;
        }
        let decoded: ReturnType<typeof decodeExportRequest>;
        try {
          decoded = decodeExportRequest(signal, call.request, 'protobuf');
        } catch (err) {
          callback({ code: 3, details: err instanceof Error ? err.message : String(err) });
          return;
        }
        if (decoded.signal === 'traces') spans.push(...decoded.spans);
        else if (decoded.signal === 'logs') logs.push(...decoded.logs);
        else metrics.push(...decoded.metrics);
        callback(null, Buffer.alloc(0)); // an empty Export*ServiceResponse: everything accepted
      },
    };
    server.addService(definition, implementation);
  }
  const credentials = opts.tls
    ? ServerCredentials.createSsl(
        null,
        [{ private_key: Buffer.from(opts.tls.key), cert_chain: Buffer.from(opts.tls.cert) }],
        false,
      )
    : ServerCredentials.createInsecure();
  const innerPort = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', credentials, (err, port) => (err ? reject(err) : resolve(port))),
  );

  // the relay: counts what arrives, passes everything through unchanged
  const sockets = new Set<Socket>();
  const relay = createServer((client) => {
    const upstream = createConnection(innerPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('data', (chunk: Buffer) => {
      wireBytes += chunk.length;
    });
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  relay.listen(opts.port ?? 0, '127.0.0.1');
  await once(relay, 'listening');
  const port = (relay.address() as { port: number }).port;
  const url = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`;

  const summary = () =>
    `received ${spans.length} span(s), ${logs.length} log(s), ${metrics.length} metric(s) in ${calls.length} call(s)`;
  let closed: Promise<void> | undefined;
  return {
    url,
    port,
    spans,
    logs,
    metrics,
    calls,
    get wireBytes() {
      return wireBytes;
    },
    waitFor: (fn, waitOpts) => pollUntil(fn, waitOpts, 'OtlpGrpcReceiver.waitFor', summary),
    reset() {
      spans.length = 0;
      logs.length = 0;
      metrics.length = 0;
      calls.length = 0;
      wireBytes = 0;
    },
    close() {
      closed ??= (async () => {
        relay.close();
        for (const socket of sockets) socket.destroy();
        server.forceShutdown();
      })();
      return closed;
    },
  };
}
