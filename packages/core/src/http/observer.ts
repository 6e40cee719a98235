/**
 * The request observer: everything @obs does for an HTTP request except learning about it, which is
 * the adapters' job. An adapter calls {@link RequestObserver.begin} from its framework's first hook;
 * the observer then
 * - takes or makes the request id (see ./request-id.ts) and puts it in the context, so every log line
 *   written while handling the request carries `request_id`;
 * - hands the route template to the server span and `http.server.request.duration` through the
 *   OpenTelemetry RPC metadata (the mechanism `@opentelemetry/instrumentation-http` reads);
 * - records a handler error once (log line at level error with the stack; exception event and status
 *   ERROR on the server span);
 * - when error reporting is on (Sentry), reports at most one error per request when the response is
 *   done: the recorded error, else an error logged at level error while handling a 5xx request (see
 *   ../errors/request.ts for the rule);
 * - writes one completion line when the response is done, or when the client went away first
 *   (`request aborted`, level warn): method, route template, path, status code, `duration_ms`,
 *   `request_id`, `trace_id`, `span_id`. Health and metrics routes registered with
 *   {@link RequestObserver.ignorePath} are neither logged, traced nor measured.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context, Span } from '@opentelemetry/api';
import type { RPCMetadata } from '@opentelemetry/core';
import { withRequestId } from '../context.js';
import { type RequestErrors, withRequestErrors } from '../errors/request.js';
import type { ObsLogger } from '../logging/logger.js';
import { opentelemetry, otelCore } from '../otel.js';
import { recordError } from '../tracing/spans.js';
import { REQUEST_ID_HEADER, requestIdFrom } from './request-id.js';

const { context, isSpanContextValid, trace } = opentelemetry;
const { getRPCMetadata } = otelCore;

/** What an adapter gets back for one request. */
export interface ObservedRequest {
  /** The request id (echo it in the `X-Request-Id` response header; adapters do). */
  readonly id: string;
  /** The logger to use for this request (lines carry `request_id` and trace ids). */
  readonly log: ObsLogger;
  /** The active context plus the request id: run the rest of the request inside it. */
  readonly context: Context;
  /** Set the route template (`/api/v1/users/:id`) once the framework has matched a route. */
  setRoute(template: string): void;
  /** Record the error that is turning this request into a failure. Only the first call counts. */
  recordError(err: unknown): void;
  /**
   * Note an error the framework answered with a 4xx status (a malformed body, a failed validation).
   * Not logged and not marked on the span; reported to error tracking only when
   * `OBS_SENTRY_MIN_STATUS` asks for 4xx errors. Only the first call counts.
   */
  noteError(err: unknown): void;
}

/** Options for {@link RequestObserver.begin}. */
export interface BeginOptions {
  /**
   * The request id when the framework already assigned one with @obs's rules (Fastify's `request.id`
   * from `genReqId`). Default: taken from `X-Request-Id` when well-formed, else a new UUID.
   */
  requestId?: string;
  /** Called at completion when no route was set: the framework's own idea of the template, if any. */
  resolveRoute?: () => string | undefined;
  /**
   * Asked just before the response finishes: did a route handle this request? When it answers false
   * (a 404 from a catch-all), any route a framework instrumentation recorded from a router's mount
   * path (`/api/v1` for `/api/v1/nowhere`) is removed, so unmatched requests carry no `http.route`.
   */
  routeMatched?: () => boolean;
}

function pathOf(url: string | undefined): string {
  if (!url) return '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function normalisePath(path: string): string {
  const lower = path.toLowerCase();
  return lower.length > 1 && lower.endsWith('/') ? lower.slice(0, -1) : lower;
}

/** What the observer needs of error reporting (../errors/reporter.ts). */
export interface ErrorTracking {
  /** The tracker of a request that begins now, or undefined when errors are not reported. */
  track(): RequestErrors | undefined;
}

/** The observer. One per process, owned by the @obs instance. */
export class RequestObserver {
  readonly #log: () => ObsLogger;
  readonly #errors: (() => ErrorTracking | undefined) | undefined;
  readonly #ignored = new Set<string>();

  /**
   * @param log returns the process logger (lazily: the logger is created after the SDK starts)
   * @param errors returns the error reporter, if any (lazily: it starts after the SDK)
   */
  constructor(log: () => ObsLogger, errors?: () => ErrorTracking | undefined) {
    this.#log = log;
    this.#errors = errors;
  }

  /**
   * Exclude a path (no query string) from logs, traces and metrics: probes and scrapes. Matched the
   * way routers match by default: any letter case, with or without a trailing slash.
   */
  ignorePath(path: string): void {
    this.#ignored.add(normalisePath(path));
  }

  /** Is `path` excluded? */
  isIgnored(path: string): boolean {
    return this.#ignored.size > 0 && this.#ignored.has(normalisePath(path));
  }

  /** Start observing a request. Call once per request, from the framework's first hook. */
  begin(req: IncomingMessage, res: ServerResponse, options: BeginOptions = {}): ObservedRequest {
    const started = performance.now();
    const id = options.requestId ?? requestIdFrom(req.headers[REQUEST_ID_HEADER]);
    const active = context.active();
    const rpc: RPCMetadata | undefined = getRPCMetadata(active);
    // The SERVER span the http instrumentation started, even when a framework span is active.
    const span: Span | undefined = rpc?.span ?? trace.getSpan(active);
    const log = this.#log();
    const path = pathOf(req.url);
    if (this.isIgnored(path)) {
      return { id, log, context: withRequestId(active, id), setRoute() {}, recordError() {}, noteError() {} };
    }
    const errors = this.#errors?.()?.track();
    const ctx = errors ? withRequestErrors(withRequestId(active, id), errors) : withRequestId(active, id);
    let route: string | undefined;
    let failed = false;
    let unmatched = false;
    const { routeMatched } = options;
    if (routeMatched) {
      res.once('prefinish', () => {
        if (routeMatched()) return;
        unmatched = true;
        route = undefined;
        if (rpc) rpc.route = undefined;
      });
    }

    res.once('close', () => {
      const durationMs = Math.round((performance.now() - started) * 1000) / 1000;
      const template = unmatched ? undefined : (route ?? rpc?.route ?? options.resolveRoute?.());
      const sc = span?.spanContext();
      // Not finished and not destroyed with an error by the server: the client went away.
      const serverError = res.writableFinished ? undefined : (res.errored ?? undefined);
      const aborted = !res.writableFinished && serverError === undefined;
      const line: Record<string, unknown> = {
        'http.request.method': req.method,
        'http.route': template,
        'url.path': path,
        'http.response.status_code': aborted && !res.headersSent ? undefined : res.statusCode,
        duration_ms: durationMs,
        request_id: id,
      };
      if (sc && isSpanContextValid(sc)) {
        line.trace_id = sc.traceId;
        line.span_id = sc.spanId;
        line.trace_flags = `0${sc.traceFlags.toString(16)}`;
      }
      if (aborted) {
        line.aborted = true;
        log.warn(line, 'request aborted');
      } else if (serverError) {
        // the server destroyed the response (a failing stream): not the client's doing
        line['error.type'] = serverError.name;
        log.error(line, 'request completed');
      } else if (res.statusCode >= 500) {
        log.error(line, 'request completed');
      } else {
        log.info(line, 'request completed');
      }
      if (errors) {
        try {
          errors.complete({
            method: req.method,
            route: template,
            path,
            requestId: id,
            statusCode: aborted && !res.headersSent ? undefined : res.statusCode,
            serverError,
            context: ctx,
          });
        } catch {
          // error reporting never breaks the request's completion
        }
      }
    });

    return {
      id,
      log,
      context: ctx,
      setRoute(template) {
        route = template;
        if (rpc) rpc.route = template;
      },
      recordError(err) {
        if (failed) return;
        failed = true;
        errors?.recorded(err, context.active());
        if (span) recordError(span, err);
        context.with(ctx, () => log.error({ err }, 'request failed'));
      },
      noteError(err) {
        errors?.noted(err, context.active());
      },
    };
  }
}
