/**
 * One observation per HTTP server request: started when the request arrives, completed once when its
 * response closes, and the single source of the SERVER span, the `http.server.request.duration`
 * record, the completion line and the error report (see ./observer.ts for the whole picture).
 *
 * Completion, from what the response did:
 * - finished (every byte handed to the socket; for responses not on a real socket, such as Fastify's
 *   `inject()`, ended): `request completed`, level error for 5xx, else info;
 * - destroyed with an error by the server (a failing stream): `request completed` at error with
 *   `error.type` (the error's class);
 * - closed by the drain timeout at shutdown (see {@link Observation.cutByServer}): `request cut at
 *   shutdown` at error, `error.type` `server_shutdown`, span status ERROR;
 * - otherwise the client went away: `request aborted` at warn, `aborted: true`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context, Histogram, Span, Tracer } from '@opentelemetry/api';
import type { RPCMetadata } from '@opentelemetry/core';
import { activeRequestId, withRequestId } from '../context.js';
import { type RequestErrors, withRequestErrors } from '../errors/request.js';
import type { ObsLogger } from '../logging/logger.js';
import { opentelemetry, otelCore, semconv } from '../otel.js';
import { recordError } from '../tracing/spans.js';
import { addAppFields, addStandardFields, type StandardFields } from './completion-fields.js';
import type { BeginOptions, ObservedRequest } from './observer.js';
import { REQUEST_ID_HEADER, requestIdFrom } from './request-id.js';
import {
  type MetricAttributeCache,
  normalizeMethod,
  parseTarget,
  serverSpanAttributes,
  serverSpanName,
  statusErrorType,
  type Target,
} from './server-attributes.js';

const { context, isSpanContextValid, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } = opentelemetry;
const { deleteRPCMetadata, getRPCMetadata, RPCType, setRPCMetadata, suppressTracing } = otelCore;
const { ATTR_ERROR_TYPE, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_HTTP_ROUTE } = semconv;

/** Error codes of a response whose client went away (not a failure of the server). */
const CLIENT_GONE = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE']);

/** `error.type` of a request whose connection the server closed at shutdown before it finished. */
export const SHUTDOWN_ERROR_TYPE = 'server_shutdown';

/** What the observer records server requests with (built once by the @obs instance). */
export interface ServerTelemetry {
  /**
   * True: @obs makes the SERVER span and records `http.server.request.duration`. False:
   * `@opentelemetry/instrumentation-http`'s incoming side does (`OBS_HTTP_SERVER_INSTRUMENTATION=otel`).
   */
  readonly ownsServerSpan: boolean;
  /**
   * With the SDK disabled (`OTEL_SDK_DISABLED`): no span, but the caller's trace context extracted
   * from the request headers is made active, so it reaches log lines and outgoing calls.
   */
  readonly passesContextOn?: boolean;
  readonly tracer: Tracer;
  /** `http.server.request.duration` (seconds). */
  readonly duration: Histogram;
  readonly metricAttributes: MetricAttributeCache;
  /** The recorded form of a query string (secret parameters' values replaced). */
  readonly redactQuery: (query: string) => string;
}

/** What the observer needs of error reporting (../errors/reporter.ts). */
export interface ErrorTracking {
  /** The tracker of a request that begins now, or undefined when errors are not reported. */
  track(): RequestErrors | undefined;
}

/** How an observation starts. */
export interface ObservationSetup {
  readonly log: ObsLogger;
  readonly telemetry: ServerTelemetry | undefined;
  readonly errors: RequestErrors | undefined;
  /** A probe or scrape: no span, metric, line or report, and nothing it calls is traced. */
  readonly ignored: boolean;
  /** The request arrived through the server hook (a real socket), not `begin()` alone. */
  readonly fromServer: boolean;
  readonly requestId: string | undefined;
  /** Standard fields of the completion line (`OBS_HTTP_LOG_FIELDS`); undefined: none. */
  readonly standardFields?: StandardFields | undefined;
}

const NO_OPTIONS: BeginOptions = {};

export class Observation implements ObservedRequest {
  readonly id: string;
  readonly log: ObsLogger;
  context: Context;
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #started = performance.now();
  readonly #target: Target;
  readonly #method: string;
  readonly #telemetry: ServerTelemetry | undefined;
  readonly #errors: RequestErrors | undefined;
  readonly #ignored: boolean;
  readonly #fromServer: boolean;
  readonly #standardFields: StandardFields | undefined;
  /** True when this observation made the span (and so ends it and records the metric). */
  readonly #ownsSpan: boolean;
  #span: Span | undefined;
  #rpc: RPCMetadata | undefined;
  #options: BeginOptions = NO_OPTIONS;
  #route: string | undefined;
  #failed = false;
  #cut = false;
  #done = false;

  constructor(req: IncomingMessage, res: ServerResponse, setup: ObservationSetup) {
    this.#req = req;
    this.#res = res;
    this.log = setup.log;
    this.#telemetry = setup.telemetry;
    this.#errors = setup.errors;
    this.#ignored = setup.ignored;
    this.#fromServer = setup.fromServer;
    this.#standardFields = setup.standardFields;
    this.id = setup.requestId ?? requestIdFrom(req.headers[REQUEST_ID_HEADER]);
    this.#target = parseTarget(req.url);
    this.#method = normalizeMethod(req.method);
    const telemetry = setup.telemetry;
    this.#ownsSpan = !setup.ignored && setup.fromServer && telemetry?.ownsServerSpan === true;
    if (setup.ignored) {
      this.context = suppressTracing(withRequestId(ROOT_CONTEXT, this.id));
      return;
    }
    let ctx: Context;
    if (this.#ownsSpan && telemetry) {
      const parent = propagation.extract(ROOT_CONTEXT, req.headers);
      const scheme = (req.socket as { encrypted?: boolean } | null)?.encrypted ? 'https' : 'http';
      const span = telemetry.tracer.startSpan(
        serverSpanName(this.#method, undefined),
        {
          kind: SpanKind.SERVER,
          attributes: serverSpanAttributes(req, this.#method, scheme, this.#target, telemetry.redactQuery),
          // the span and `http.server.request.duration` measure one interval: an exemplar's value is
          // exactly its span's duration (a performance.now() time; the SDK adds the time origin)
          startTime: this.#started,
        },
        parent,
      );
      this.#span = span;
      this.#rpc = { type: RPCType.HTTP, span };
      ctx = setRPCMetadata(trace.setSpan(parent, span), this.#rpc);
    } else if (setup.fromServer && telemetry?.passesContextOn) {
      ctx = propagation.extract(context.active(), req.headers);
      // the caller's span, non-recording: the request's span from here on (adopt() keeps it)
      this.#span = trace.getSpan(ctx);
      if (this.#span === undefined) ctx = this.#adoptActive();
    } else if (!setup.fromServer && activeRequestId() !== undefined) {
      // an in-process request (inject) made while another request runs: the active span and RPC
      // metadata are that request's; this one's route and error must not land on them. Its work stays
      // in the outer trace.
      ctx = deleteRPCMetadata(context.active());
    } else {
      ctx = this.#adoptActive();
    }
    ctx = withRequestId(ctx, this.id);
    this.context = this.#errors ? withRequestErrors(ctx, this.#errors) : ctx;
  }

  /** The span and RPC metadata of the active context (instrumentation-http's, or a framework's). */
  #adoptActive(): Context {
    const active = context.active();
    this.#rpc = getRPCMetadata(active);
    this.#span = this.#rpc?.span ?? trace.getSpan(active);
    return active;
  }

  /** The framework's first hook saw the request: keep what it knows; adopt the span made since. */
  adopt(options: BeginOptions): void {
    if (options !== NO_OPTIONS) this.#options = options;
    if (this.#ownsSpan || this.#ignored || !this.#fromServer || this.#span !== undefined) return;
    // instrumentation-http made the span after the server hook ran: run the rest inside its context
    const ctx = withRequestId(this.#adoptActive(), this.id);
    this.context = this.#errors ? withRequestErrors(ctx, this.#errors) : ctx;
  }

  setRoute(template: string): void {
    if (this.#ignored) return;
    this.#route = template;
    if (this.#rpc) this.#rpc.route = template;
  }

  recordError(err: unknown): void {
    if (this.#failed || this.#ignored) return;
    this.#failed = true;
    this.#errors?.recorded(err, context.active());
    if (this.#span) recordError(this.#span, err);
    context.with(this.context, () => this.log.error({ err }, 'request failed'));
  }

  noteError(err: unknown): void {
    if (this.#ignored) return;
    this.#errors?.noted(err, context.active());
  }

  /** See {@link RequestObserver.cutByServer}. */
  cutByServer(): void {
    if (!this.#done) this.#cut = true;
  }

  /** The response closed: end the span, record the metric, write the line, report the error. Once. */
  complete(): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#ignored) return;
    const ended = performance.now();
    const durationS = (ended - this.#started) / 1000;
    const res = this.#res;
    const options = this.#options;
    const matched = options.routeMatched ? options.routeMatched(this.#req) : true;
    const route = matched ? (this.#route ?? this.#rpc?.route ?? options.resolveRoute?.(this.#req)) : undefined;
    // the RPC metadata is where instrumentation-http (OBS_HTTP_SERVER_INSTRUMENTATION=otel) reads it
    if (this.#rpc) this.#rpc.route = route;
    // a response not on a real socket (inject) never "finishes": ended is all it does
    const finished = this.#fromServer ? res.writableFinished : res.writableEnded;
    // An error that says the client went away (a write to its reset connection, a stream pipeline cut
    // short, as Koa's Stream.pipeline reports it) is an abort, not a failure of the server.
    const errored = finished ? undefined : (res.errored ?? undefined);
    const serverError =
      errored && !CLIENT_GONE.has((errored as NodeJS.ErrnoException).code ?? '') ? errored : undefined;
    const cut = !finished && this.#cut;
    const aborted = !finished && serverError === undefined && !cut;
    const statusCode = (aborted || cut) && !res.headersSent ? undefined : res.statusCode;
    const errorType =
      serverError?.name ??
      (cut ? SHUTDOWN_ERROR_TYPE : statusCode === undefined ? undefined : statusErrorType(statusCode));
    if (this.#ownsSpan)
      this.#endSpan(ended, durationS, route, statusCode, errorType, serverError ?? (cut ? 'cut' : undefined));
    this.#writeLine(durationS, route, statusCode, { aborted, cut, serverError, errorType });
    this.#report(route, statusCode, serverError);
  }

  #endSpan(
    ended: number,
    durationS: number,
    route: string | undefined,
    statusCode: number | undefined,
    errorType: string | undefined,
    failure: Error | 'cut' | undefined,
  ): void {
    const span = this.#span;
    const telemetry = this.#telemetry;
    if (!span || !telemetry) return;
    if (statusCode !== undefined) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, statusCode);
    if (route !== undefined) span.setAttribute(ATTR_HTTP_ROUTE, route);
    if (errorType !== undefined) {
      span.setAttribute(ATTR_ERROR_TYPE, errorType);
      if (!this.#failed) {
        const message =
          failure === 'cut' ? 'the server closed the connection at shutdown' : failure ? failure.message : undefined;
        span.setStatus(message ? { code: SpanStatusCode.ERROR, message } : { code: SpanStatusCode.ERROR });
      }
    }
    span.updateName(serverSpanName(this.#method, route));
    span.end(ended);
    const attributes = telemetry.metricAttributes.get(
      this.#method,
      (this.#req.socket as { encrypted?: boolean } | null)?.encrypted ? 'https' : 'http',
      this.#req.httpVersion,
      route,
      statusCode,
      errorType,
    );
    // in the request's context: the sampled span's ids become the bucket's exemplar (../metrics/exemplars.ts)
    telemetry.duration.record(durationS, attributes, this.context);
  }

  #writeLine(
    durationS: number,
    route: string | undefined,
    statusCode: number | undefined,
    how: { aborted: boolean; cut: boolean; serverError: Error | undefined; errorType: string | undefined },
  ): void {
    const line: Record<string, unknown> = {
      'http.request.method': this.#req.method,
      'http.route': route,
      'url.path': this.#target.path,
      'http.response.status_code': statusCode,
      duration_ms: Math.round(durationS * 1e6) / 1000,
      request_id: this.id,
    };
    const sc = this.#span?.spanContext();
    if (sc && isSpanContextValid(sc)) {
      line.trace_id = sc.traceId;
      line.span_id = sc.spanId;
      line.trace_flags = `0${sc.traceFlags.toString(16)}`;
    }
    if (this.#standardFields) addStandardFields(line, this.#standardFields, this.#req, this.#res);
    const fields = this.#options.fields;
    if (fields) addAppFields(line, fields, this.#req, this.#res);
    const log = this.log;
    if (how.cut) {
      line['error.type'] = how.errorType;
      log.error(line, 'request cut at shutdown');
    } else if (how.aborted) {
      line.aborted = true;
      log.warn(line, 'request aborted');
    } else if (how.serverError) {
      // the server destroyed the response (a failing stream): not the client's doing
      line['error.type'] = how.serverError.name;
      log.error(line, 'request completed');
    } else if (statusCode !== undefined && statusCode >= 500) {
      log.error(line, 'request completed');
    } else {
      log.info(line, 'request completed');
    }
  }

  #report(route: string | undefined, statusCode: number | undefined, serverError: Error | undefined): void {
    if (!this.#errors) return;
    try {
      this.#errors.complete({
        method: this.#req.method,
        route,
        path: this.#target.path,
        requestId: this.id,
        statusCode,
        serverError,
        context: this.context,
      });
    } catch {
      // error reporting never breaks the request's completion
    }
  }
}
