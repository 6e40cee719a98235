/**
 * The request observer: everything @obs does for an HTTP server request. It is fed from one place,
 * the server hook (./server-hook.ts), which hands it every request a `node:http(s)` server receives
 * before the app's `request` listener runs; the adapters only add what their framework knows (the
 * route template, the error a handler threw) through {@link RequestObserver.begin}.
 *
 * One observation per request (./observation.ts) feeds every pillar:
 * - the SERVER span (W3C trace context and baggage extracted from the headers, sampling as
 *   configured, stable HTTP semantic-convention attributes, named `METHOD /route`), made the active
 *   context for everything the request runs, with the request id (./request-id.ts);
 * - `http.server.request.duration` (seconds, semconv buckets, one cached attribute set per series);
 * - one completion line per request (`request completed`, `request aborted` when the client went
 *   away, `request cut at shutdown` when the drain timeout closed it);
 * - error recording (log line, exception event, span status) and error reporting (Sentry).
 * Health and metrics routes registered with {@link RequestObserver.ignorePath} are neither logged,
 * traced nor measured, and nothing they call (a database ping) is traced either.
 *
 * With `OBS_HTTP_SERVER_INSTRUMENTATION=otel`, `@opentelemetry/instrumentation-http` makes the
 * SERVER span and the metric instead (for its hooks); the observer then adopts its span.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from '@opentelemetry/api';
import type { HttpLogField } from '../config/resolve.js';
import type { ObsLogger } from '../logging/logger.js';
import { opentelemetry } from '../otel.js';
import { type CompletionFields, type StandardFields, standardFields } from './completion-fields.js';
import { type ErrorTracking, Observation, type ServerTelemetry } from './observation.js';

export type { ErrorTracking, ServerTelemetry } from './observation.js';

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

/**
 * Options for {@link RequestObserver.begin}: what the framework knows. Pass one object per adapter
 * (its functions receive the request), not a new one per request.
 */
export interface BeginOptions {
  /**
   * The request id when the framework already assigned one with @obs's rules (Fastify's `request.id`
   * from `genReqId`). Only used for requests the server hook did not see (`app.inject()`). Default:
   * taken from `X-Request-Id` when well-formed, else a new UUID.
   */
  requestId?: string;
  /** Called at completion when no route was set: the framework's own idea of the template, if any. */
  resolveRoute?: (req: IncomingMessage) => string | undefined;
  /**
   * Asked at completion: did a route handle this request? When it answers false (a 404 from a
   * catch-all), any route recorded from a router's mount path (`/api/v1` for `/api/v1/nowhere`) is
   * dropped, so unmatched requests carry no `http.route`.
   */
  routeMatched?: (req: IncomingMessage) => boolean;
  /**
   * The app's fields for the completion line (the adapter's `fields` option, adapted to the raw
   * request and response): called once when the response has closed, merged under @obs's own
   * fields, redacted like every field. A function that throws never breaks the request (see
   * ./completion-fields.ts). Default none: nothing runs per request.
   */
  fields?: CompletionFields;
}

const OBSERVATION = Symbol.for('@obs/core.observation');
type Tagged = { [OBSERVATION]?: Observation };

function pathOf(url: string | undefined): string {
  if (!url) return '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function normalisePath(path: string): string {
  const lower = path.toLowerCase();
  return lower.length > 1 && lower.endsWith('/') ? lower.slice(0, -1) : lower;
}

/** Ends the observation of the response it is a listener of. One function for every response. */
function onResponseClose(this: ServerResponse): void {
  (this as ServerResponse & Tagged)[OBSERVATION]?.complete();
}

/** The observer. One per process, owned by the @obs instance. */
export class RequestObserver {
  readonly #log: () => ObsLogger;
  readonly #errors: (() => ErrorTracking | undefined) | undefined;
  readonly #ignored = new Set<string>();
  readonly #ignoredServers = new WeakSet<object>();
  #anyIgnoredServer = false;
  #telemetry: ServerTelemetry | undefined;
  #standardFields: StandardFields | undefined;
  #enter: ((ctx: Context) => void) | undefined;
  #disableInstrumentation: ((name: 'express' | 'koa') => void) | undefined;

  /**
   * @param log returns the process logger (lazily: the logger is created after the SDK starts)
   * @param errors returns the error reporter, if any (lazily: it starts after the SDK)
   */
  constructor(log: () => ObsLogger, errors?: () => ErrorTracking | undefined) {
    this.#log = log;
    this.#errors = errors;
  }

  /**
   * Give the observer what it records with (called once by the @obs instance when telemetry starts).
   * Without it, requests still get ids, context and completion lines, but no span or metric.
   * @param enter makes a context active for the rest of the current synchronous run (the context
   *   manager's `enterWith`); undefined when another context manager was installed first
   */
  useTelemetry(
    telemetry: ServerTelemetry,
    enter: ((ctx: Context) => void) | undefined,
    disableInstrumentation?: (name: 'express' | 'koa') => void,
  ): void {
    this.#telemetry = telemetry;
    this.#enter = enter;
    this.#disableInstrumentation = disableInstrumentation;
  }

  /**
   * Add these standard fields to every completion line (`OBS_HTTP_LOG_FIELDS`; called once by the
   * @obs instance). Default none.
   */
  useLogFields(fields: readonly HttpLogField[]): void {
    this.#standardFields = standardFields(fields);
  }

  /**
   * An adapter says it hands over the route template of every request itself, so the framework's
   * OpenTelemetry instrumentation (`@opentelemetry/instrumentation-express`, `-koa`), which in @obs's
   * configuration creates no span and only labels routes, is disabled: it would repeat the work on
   * every middleware layer of every request (about 25 µs of CPU per Express request, measured in
   * packages/bench). Call while the app is being built, before its routes are registered.
   * @param framework `express` or `koa`
   */
  adapterLabelsRoutes(framework: 'express' | 'koa'): void {
    this.#disableInstrumentation?.(framework);
  }

  /**
   * Exclude a path (no query string) from logs, traces and metrics: probes and scrapes. Matched the
   * way routers match by default: any letter case, with or without a trailing slash.
   */
  ignorePath(path: string): void {
    this.#ignored.add(normalisePath(path));
  }

  /** Exclude every request `server` receives from logs, traces and metrics (the management server). */
  ignoreServer(server: object): void {
    this.#ignoredServers.add(server);
    this.#anyIgnoredServer = true;
  }

  /** Is `path` excluded? */
  isIgnored(path: string): boolean {
    return this.#ignored.size > 0 && this.#ignored.has(normalisePath(path));
  }

  /**
   * A request arrived (the server hook calls this before the server's `request` listeners run):
   * start its observation and make its context active for the rest of this synchronous run (when it
   * can: not when another context manager was installed first; the observation starts all the same).
   */
  arrive(req: IncomingMessage, res: ServerResponse): void {
    // not `this.#enter?.(this.#start(...))`: an optional call skips its arguments, and the request
    // would go unobserved
    const observation = this.#start(req, res, undefined, true);
    this.#enter?.(observation.context);
  }

  /**
   * Make `req`'s context active again for the rest of the current synchronous run, when a library
   * between the server and the framework replaced it (Sentry's `emit` wrapper re-extracts the
   * incoming trace context over it). For adapters that cannot wrap the framework's entry point.
   * @returns false when it cannot (no observation, or another context manager is installed)
   */
  reenter(req: IncomingMessage): boolean {
    const observation = (req as IncomingMessage & Tagged)[OBSERVATION];
    if (!observation || !this.#enter) return false;
    if (opentelemetry.context.active() !== observation.context) this.#enter(observation.context);
    return true;
  }

  /**
   * The observation of a request, started by the server hook or, for requests it did not see
   * (`app.inject()`, a server in another copy of Node's http), started now from the active context.
   * An in-process request made while another request runs stays in that request's trace but takes
   * neither its span nor its RPC metadata (its route and error are its own). Call from the framework's
   * first hook; `options` say what the framework knows.
   */
  begin(req: IncomingMessage, res: ServerResponse, options: BeginOptions = {}): ObservedRequest {
    const existing = (req as IncomingMessage & Tagged)[OBSERVATION];
    if (existing) {
      existing.adopt(options);
      return existing;
    }
    const observation = this.#start(req, res, options.requestId, false);
    observation.adopt(options);
    return observation;
  }

  /**
   * An error reached the framework's error handling and is answered with `status` (one rule for every
   * adapter): 5xx errors are the request's failure, recorded once (`request failed` at level error
   * with the stack, exception event and status ERROR on the SERVER span, error tracking); 4xx errors
   * are the client's (a malformed body, a failed validation): only noted, and reported to error
   * tracking only when `OBS_SENTRY_MIN_STATUS` asks for them. A 5xx error of a request that is not
   * observed is still logged.
   */
  failed(req: IncomingMessage, err: unknown, status: number): void {
    const observation = (req as IncomingMessage & Tagged)[OBSERVATION];
    if (status < 500) observation?.noteError(err);
    else if (observation) observation.recordError(err);
    else this.#log().error({ err }, 'request failed');
  }

  /** The observation of `req`, if it has one. */
  observationOf(req: IncomingMessage): ObservedRequest | undefined {
    return (req as IncomingMessage & Tagged)[OBSERVATION];
  }

  /**
   * The server is closing `res`'s connection before the response finished (the drain timeout at
   * shutdown): its completion says so, its span ends with an error, and it is exported.
   */
  cutByServer(res: ServerResponse): void {
    (res as ServerResponse & Tagged)[OBSERVATION]?.cutByServer();
  }

  #start(req: IncomingMessage, res: ServerResponse, requestId: string | undefined, fromServer: boolean): Observation {
    const ignored =
      this.isIgnored(pathOf(req.url)) ||
      (this.#anyIgnoredServer && this.#ignoredServers.has((req.socket as { server?: object } | null)?.server ?? {}));
    const observation = new Observation(req, res, {
      log: this.#log(),
      telemetry: this.#telemetry,
      errors: ignored ? undefined : this.#errors?.()?.track(),
      ignored,
      fromServer,
      requestId,
      standardFields: this.#standardFields,
    });
    (req as IncomingMessage & Tagged)[OBSERVATION] = observation;
    (res as ServerResponse & Tagged)[OBSERVATION] = observation;
    res.on('close', onResponseClose);
    return observation;
  }
}
