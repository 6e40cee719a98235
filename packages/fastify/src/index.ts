/**
 * @obs/fastify: Fastify 5 glue for @obs/core. Everything that is not about Fastify (request ids,
 * logging, route labelling, error recording, health, metrics rendering) lives in core.
 *
 * ```js
 * import Fastify from 'fastify';
 * import { errorHandler, notFoundHandler, obsFastifyOptions, obsPlugin } from '@obs/fastify';
 *
 * const app = Fastify({ ...obsFastifyOptions() }); // @obs logger, request ids, no duplicate request logs
 * await app.register(obsPlugin);                    // first: request observer, health and metrics routes
 * app.setErrorHandler(errorHandler());               // JSON errors: 500 {"error":"Internal server error"}
 * app.setNotFoundHandler(notFoundHandler());         // JSON 404 {"error":"Not found"}
 * // ... your routes: request.log lines carry trace_id, span_id and request_id ...
 * ```
 * Start the process with `node --import @obs/register server.js`.
 *
 * How a request is observed. @obs/core's server hook starts every request's observation (request id,
 * SERVER span, the context that carries them) before Fastify sees it, so Fastify's hooks, the handlers
 * and `@fastify/otel` (opt-in: `OTEL_NODE_ENABLED_INSTRUMENTATIONS` with `fastify`; it builds its
 * request context from the active one) all run inside it. This plugin adds what only Fastify knows:
 * the route template (`request.routeOptions.url`, from its `onRequest` hook), whether the 404 handler
 * answered, and the errors of the `onError` hook. Requests that do not come through a server
 * (`app.inject()`) are observed from `onRequest`.
 */
import type { IncomingMessage } from 'node:http';
import {
  type AppLoggerOptions,
  activeRequestId,
  type BeginOptions,
  errorMessage,
  errorStatus,
  getObs,
  type Obs,
  type ObsLogger,
  type ObsRoute,
  type ObsRoutePaths,
  obsRouteTable,
  opentelemetry,
  REQUEST_ID_HEADER,
  requestIdFrom,
  shapeLogger,
} from '@obs/core';
import type { Context } from '@opentelemetry/api';
import fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyPluginCallback,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
  type LogController,
} from 'fastify';
import fp from 'fastify-plugin';

// @obs/core's (CommonJS) build of the API: one copy of OpenTelemetry in the process
const { context } = opentelemetry;

// The core API, so that a Fastify app needs only this package: `import { getObs } from '@obs/fastify'`.
// With the built-in health checks: `getObs().health.add(postgresCheck(pool))`.
export {
  amqpCheck,
  getObs,
  HealthCheckError,
  httpCheck,
  mysqlCheck,
  type Obs,
  type ObsLogger,
  type ObsOptions,
  postgresCheck,
  redisCheck,
  start,
  withSpan,
} from '@obs/core';

/** The Fastify request of a raw request, once the plugin's `onRequest` hook has seen it. */
const FASTIFY_REQUEST = Symbol.for('@obs/fastify.request');
/** The Fastify reply of a raw request, once the plugin's `onRequest` hook has seen it. */
const FASTIFY_REPLY = Symbol.for('@obs/fastify.reply');
type Tagged = IncomingMessage & { [FASTIFY_REQUEST]?: FastifyRequest; [FASTIFY_REPLY]?: FastifyReply };

/** What Fastify knows of a request's route: its `routeOptions.url`, and `is404` for the 404 handler's. */
const FASTIFY_ROUTES: BeginOptions = {
  resolveRoute: (req) => (req as Tagged)[FASTIFY_REQUEST]?.routeOptions.url,
  routeMatched: (req) => !((req as Tagged)[FASTIFY_REQUEST]?.is404 ?? false),
};

/** Fastify's `childLoggerFactory` option (the type is not exported by name). */
type ChildLoggerFactory = NonNullable<FastifyServerOptions['childLoggerFactory']>;

/** What `@fastify/otel` decorates requests with (`request.opentelemetry()`), when it is loaded. */
type WithOtel = { opentelemetry?: () => { context?: Context | null } };

/** Options for {@link obsFastifyOptions}. */
export interface ObsFastifyOptionsInput {
  /** The @obs instance. Default: the one `@obs/register` started (or a new one from the environment). */
  obs?: Obs;
  /**
   * The app's own Fastify `logger` option. Under the preload it can also stay next to the spread,
   * `Fastify({ ...obsFastifyOptions(), logger })`: @obs's patch of Fastify 5's logger factory applies
   * it here before Fastify would refuse `logger` next to `loggerInstance`
   * (`FST_ERR_LOG_LOGGER_AND_LOGGER_INSTANCE_PROVIDED`, what Fastify does without the preload). What
   * it asks for shapes the logger of
   * `app.log` and `request.log`, which stays @obs's (JSON lines, redaction, trace ids):
   * - `level`: their level (a child logger; @obs's own lines keep `OBS_LOG_LEVEL`);
   * - `redact` (pino paths, or `{ paths, censor, remove }`): removed or censored on their lines, on
   *   top of @obs's key redaction;
   * - `serializers`: applied to their lines (`req`, `res`, your own keys);
   * - `transport` (`{ target: 'pino-pretty' }` in development): every @obs line of the process, the
   *   completion lines included, goes through it (see `useLogTransport` in @obs/core);
   * - `stream`: every @obs line goes to that stream;
   * - `true`: as without it; `false`: `app.log` and `request.log` are silent (@obs's lines stay).
   * Anything else (`formatters`, `mixin`, `timestamp`, `messageKey`, `base`, `customLevels`, `file`,
   * a logger instance, ...) would change @obs's line format and cannot be combined with it: one
   * warning names the keys left out. Default: @obs's logger as it is.
   */
  logger?: boolean | AppLoggerOptions;
}

/**
 * The Fastify constructor options @obs needs: `Fastify({ ...obsFastifyOptions(), ...yours })`.
 *
 * - `loggerInstance`: the @obs pino logger, so `app.log` and `request.log` write @obs's JSON lines
 *   (ISO time, level label, redaction) and, inside a request, `trace_id`, `span_id` and `request_id`;
 *   shaped by the app's own `logger` option when given here (`obsFastifyOptions({ logger: { level:
 *   'debug', redact: ['req.headers.x-session'], transport: { target: 'pino-pretty' } } })`).
 * - `childLoggerFactory`: no per-request child logger. Fastify's child would bind the request id a
 *   second time (`reqId`, or a duplicate `request_id` key next to the one @obs adds from the
 *   context); `request.log` is the logger itself, or a plain child when a route sets `logLevel` or
 *   `logSerializers`.
 * - `genReqId`: `request.id` is @obs's request id: the incoming `X-Request-Id` when well-formed (1 to
 *   128 characters from letters, digits and `-_.:/+=@~`), else a new UUID v4. `requestIdHeader: false`
 *   so Fastify does not take the header unchecked.
 * - `logController`: Fastify's own per-request lines (`incoming request`, `request completed`, the
 *   default error handler's error line, `Route ... not found`) are off; @obs writes one completion line
 *   per request and logs 5xx errors once. Fastify's other diagnostics (stream errors, serializer
 *   failures) stay. On Fastify versions without `LogController`, `disableRequestLogging: true`.
 */
export function obsFastifyOptions(options: ObsFastifyOptionsInput = {}): {
  loggerInstance: ObsLogger;
  childLoggerFactory: ChildLoggerFactory;
  genReqId: (req: IncomingMessage) => string;
  requestIdHeader: false;
  logController?: LogController;
  disableRequestLogging?: boolean;
} {
  const obs = options.obs ?? getObs();
  const controller = obsLogController();
  return {
    loggerInstance: shapeLogger(obs.logger, options.logger, '@obs/fastify: logger'),
    childLoggerFactory: obsChildLogger,
    genReqId: (req) => obs.http.observationOf(req)?.id ?? requestIdFrom(req.headers[REQUEST_ID_HEADER]),
    requestIdHeader: false,
    ...(controller ? { logController: controller } : { disableRequestLogging: true }),
  };
}

const obsChildLogger: ChildLoggerFactory = function obsChildLogger(logger, _bindings, opts) {
  // The bindings are `{ reqId: <id> }`: @obs's mixin adds `request_id` from the context instead.
  return opts.level !== undefined || opts.serializers !== undefined ? logger.child({}, opts) : logger;
};

/** A LogController that leaves per-request lines to @obs, or undefined on Fastify versions without one. */
function obsLogController(): LogController | undefined {
  const Base = (fastify as unknown as { LogController?: typeof LogController }).LogController;
  if (typeof Base !== 'function') return undefined;
  class ObsLogController extends Base {
    override incomingRequest(): void {}
    override requestCompleted(): void {}
    override defaultErrorLog(): void {}
    override routeNotFound(): void {}
  }
  return new ObsLogController();
}

/** Options for {@link obsPlugin}: `app.register(obsPlugin, { ... })`; the paths of @obs/core's route table. */
export interface ObsPluginOptions extends ObsRoutePaths {
  /** The @obs instance. Default: the one `@obs/register` started (or a new one from the environment). */
  obs?: Obs;
  /**
   * The app's own fields for the completion line, e.g. `(request) => ({ 'enduser.id':
   * request.user?.id })`. Called once per request when the response has closed; the object it
   * returns is added to the line under @obs's own fields (it cannot replace them) and redacted like
   * every field. If it throws, the line is written without them and with `fields_failed: true`
   * (reported once on stderr); the request is not affected. Not called for requests Fastify answered
   * before routing (a malformed URL). Default none (no per-request cost). Standard fields:
   * `OBS_HTTP_LOG_FIELDS`.
   */
  fields?: (request: FastifyRequest, reply: FastifyReply) => Record<string, unknown> | undefined;
}

let warnedIdMismatch = false;

const plugin: FastifyPluginCallback<ObsPluginOptions> = (app, options, done) => {
  const obs = options.obs ?? getObs();
  const routes = obsRouteTable(obs, options);
  const byUrl = new Map(routes.map((route) => [route.path, route]));
  const fields = options.fields;
  const begin: BeginOptions = fields
    ? {
        ...FASTIFY_ROUTES,
        fields: (req) => {
          const request = (req as Tagged)[FASTIFY_REQUEST];
          const reply = (req as Tagged)[FASTIFY_REPLY];
          return request && reply ? fields(request, reply) : undefined;
        },
      }
    : FASTIFY_ROUTES;

  shutDownWith(app, obs);

  app.addHook('onRequest', function obsOnRequest(request, reply, next) {
    // A probe or scrape: answered here, before the app's own hooks (sessions, authentication) run.
    const route = byUrl.size > 0 ? byUrl.get(request.routeOptions.url ?? '') : undefined;
    if (route && (request.method === 'GET' || request.method === 'HEAD')) {
      answerEarly(route, request, reply);
      return;
    }
    const raw = request.raw;
    (raw as Tagged)[FASTIFY_REQUEST] = request;
    if (fields) (raw as Tagged)[FASTIFY_REPLY] = reply;
    const otel = (request as WithOtel).opentelemetry?.();
    const seen = obs.http.observationOf(raw);
    // Not through a server (app.inject()): observe from here, inside @fastify/otel's context if any.
    const observed = seen
      ? obs.http.begin(raw, reply.raw, begin)
      : context.with(otel?.context ?? context.active(), () =>
          obs.http.begin(raw, reply.raw, { ...begin, requestId: request.id }),
        );
    reply.header(REQUEST_ID_HEADER, observed.id);
    if (request.id !== observed.id && !warnedIdMismatch) {
      warnedIdMismatch = true;
      obs.logger.warn(
        { 'obs.request_id': observed.id, 'fastify.request_id': request.id },
        'Fastify request.id differs from the @obs request id (X-Request-Id): create Fastify with obsFastifyOptions()',
      );
    }
    // The route template for the server span and the metric (@fastify/otel, when enabled, sets it too).
    const template = request.routeOptions.url;
    if (template && !request.is404) observed.setRoute(template);
    // @fastify/otel runs hooks and handlers in the context it saved; when that context carries the
    // request id (it does when the request came through a server), keep its request span.
    const rest = otel?.context && activeRequestId(otel.context) === observed.id ? otel.context : observed.context;
    if (context.active() === rest) next();
    else context.with(rest, next);
  });

  app.addHook('onError', function obsOnError(request, reply, err, next) {
    obs.http.failed(request.raw, err, reply.statusCode >= 400 ? reply.statusCode : errorStatus(err));
    next();
  });

  // `otel: false`: no @fastify/otel span for probes and scrapes (they have no SERVER span either).
  const config = { otel: false };
  for (const route of routes) {
    app.get(route.path, { config }, async (request, reply) => {
      const { statusCode, contentType, body } = await route.answer(request.headers.accept);
      return reply.code(statusCode).type(contentType).send(body);
    });
  }
  done();
};

/**
 * Answer a probe or scrape from the plugin's `onRequest` hook, on the raw response with the reply
 * hijacked: none of the app's later `onRequest`, `preHandler`, `onSend` (a session's `set-cookie`) or
 * `onResponse` hooks run for it. Hooks the app added before registering the plugin still run first.
 */
function answerEarly(route: ObsRoute, request: FastifyRequest, reply: FastifyReply): void {
  reply.hijack();
  const res = reply.raw;
  route.answer(request.headers.accept).then(
    ({ statusCode, contentType, body }) => {
      res.writeHead(statusCode, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
      res.end(request.method === 'HEAD' ? undefined : body);
    },
    () => res.destroy(),
  );
}

/**
 * The shutdown sequence in Fastify's idiom. Once listening, the server is registered with @obs (drained
 * at shutdown) and the app has started. When @obs shuts down (a signal), it drains the server and then
 * calls `app.close()`, so the app's `onClose` hooks (closing pools) run after in-flight requests are
 * done, before @obs's own `onShutdown` hooks. When the app closes itself during a shutdown (its own
 * signal handler calls `app.close()`), the `preClose` hook first lets @obs fail readiness, wait the
 * shutdown delay and drain the server. An `app.close()` outside any shutdown (tests) is Fastify's alone.
 */
function shutDownWith(app: FastifyInstance, obs: Obs): void {
  let closing = false;
  let unregister: (() => void) | undefined;
  app.addHook('onListen', async () => {
    unregister = obs.lifecycle.registerServer(app.server, { close: () => (closing ? undefined : app.close()) });
    obs.health.markStarted();
  });
  app.addHook('preClose', async () => {
    closing = true;
    if (obs.lifecycle.shuttingDown) await obs.lifecycle.drain();
  });
  app.addHook('onClose', async () => {
    unregister?.();
  });
}

/**
 * The plugin (wrapped with `fastify-plugin`, so its hooks apply to the whole app). Register it first,
 * at the root, on an app created with {@link obsFastifyOptions}:
 *
 * - observes every request through @obs/core's request observer: `X-Request-Id` taken when
 *   well-formed, else a new UUID, echoed in the response; the request id in the context, so every log
 *   line written while handling the request carries `request_id` (and `trace_id`, `span_id`); one
 *   completion line per request (`request completed`, or `request aborted` at warn when the client
 *   went away) with method, route template, path, status code and `duration_ms`;
 * - puts the route template (`request.routeOptions.url`, e.g. `/api/v1/users/:id`) on the SERVER span
 *   and on `http.server.request.duration`; requests answered by the 404 handler carry no route, so
 *   random paths never create per-path series;
 * - 5xx errors (thrown, rejected or passed to `reply.send(err)`, as seen by Fastify's `onError`
 *   hook): logged once at level error with the stack (`request failed`) and recorded on the SERVER
 *   span (exception event, status ERROR). 4xx errors (malformed JSON, validation) are client errors,
 *   not failures;
 * - serves `GET /health/live`, `GET /health/ready`, `GET /health/started` (JSON,
 *   `{"status":"ok","checks":{}}`) and `GET /metrics` (Prometheus text), excluded from logs, traces
 *   and metrics;
 * - graceful shutdown in Fastify's idiom (`onListen`, `preClose`, `onClose`; see `shutDownWith`):
 *   readiness 503 at once, the shutdown delay, the server drained, then the `onClose` hooks.
 *
 * Answering errors and unknown routes as JSON is the app's choice: see {@link errorHandler} and
 * {@link notFoundHandler}.
 */
export const obsPlugin = fp(plugin, { fastify: '5.x', name: '@obs/fastify' });
export default obsPlugin;

/**
 * An error handler for `app.setErrorHandler(errorHandler())`: answers JSON with the status of the
 * error (`statusCode`/`status` 400..599, else 500) and its `headers`, if any.
 * - 5xx: `{"error":"Internal server error"}` (no internals leak; the plugin has logged the error).
 * - 4xx: `{"error":"<status text>"}`, e.g. 400 `{"error":"Bad Request"}` for a malformed JSON body.
 * Nothing is logged here: the plugin's `onError` hook has recorded 5xx errors already.
 */
export function errorHandler(): (err: FastifyError, request: FastifyRequest, reply: FastifyReply) => FastifyReply {
  return function obsErrorHandler(err, _request, reply) {
    const status = reply.statusCode >= 400 ? reply.statusCode : errorStatus(err);
    const headers = (err as { headers?: unknown }).headers;
    if (headers && typeof headers === 'object') reply.headers(headers as Record<string, string>);
    return reply.code(status).send({ error: errorMessage(status) });
  };
}

/** A not-found handler for `app.setNotFoundHandler(notFoundHandler())`: 404 `{"error":"Not found"}`. */
export function notFoundHandler(): (request: FastifyRequest, reply: FastifyReply) => FastifyReply {
  return function obsNotFound(_request, reply) {
    return reply.code(404).send({ error: 'Not found' });
  };
}
