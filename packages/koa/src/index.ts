/**
 * @obs/koa: Koa 3 glue for @obs/core. Everything that is not about Koa (request ids, logging, route
 * labelling, error recording, health, metrics rendering) lives in core.
 *
 * ```js
 * import Koa from 'koa';
 * import Router from '@koa/router';
 * import { bodyParser } from '@koa/bodyparser';
 * import { errorHandler, observe, obsRoutes } from '@obs/koa';
 *
 * const app = new Koa();
 * app.use(observe());        // first: request id, ctx.log, route template, completion line, error logging
 * app.use(errorHandler());   // JSON error bodies: 500 {"error":"Internal server error"}, 404 {"error":"Not found"}
 * app.use(obsRoutes());      // GET /health/live, /health/ready, /health/started, /metrics
 * app.use(bodyParser());
 * const router = new Router({ prefix: '/api/v1' });
 * // ... your routes ...
 * app.use(router.routes());
 * app.use(router.allowedMethods());
 * app.listen(3000);
 * ```
 * Start the process with `node --import @obs/register server.js`.
 */

import type { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import {
  type AppLoggerOptions,
  type BeginOptions,
  errorMessage,
  errorStatus,
  getObs,
  type Obs,
  type ObservedRequest,
  type ObsLogger,
  type ObsRoutePaths,
  obsRouteTable,
  opentelemetry,
  REQUEST_ID_HEADER,
  servingOn,
  shapeLogger,
} from '@obs/core';
import type Koa from 'koa';

// @obs/core's (CommonJS) build of the API: one copy of OpenTelemetry in the process
const { context } = opentelemetry;

declare module 'koa' {
  // ExtendableContext is part of every context type, also of apps with their own context type.
  interface ExtendableContext {
    /** Logger for this request: lines carry `request_id`, `trace_id`, `span_id`. Set by `observe()`. */
    log: ObsLogger;
  }
  interface DefaultState {
    /** The request id (`X-Request-Id` when well-formed, else a new UUID). Set by `observe()`. */
    requestId: string;
  }
}

// The core API, so that a Koa app needs only this package: `import { getObs } from '@obs/koa'`.
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

/**
 * The Koa middleware type the factories here return. Generic so that apps with their own state and
 * context types (`new Koa<MyState, MyContext>()`) take it as they take any middleware.
 */
export type ObsMiddleware<StateT = Koa.DefaultState, ContextT = Koa.DefaultContext> = Koa.Middleware<StateT, ContextT>;

/** Koa's context as the functions here see it. */
type Ctx = Koa.ParameterizedContext<Koa.DefaultState, Koa.DefaultContext>;

/**
 * The observed request of each context (set by `observe()`), on the context under a symbol. Not a
 * WeakMap keyed by the context: V8 keeps the values of young WeakMap keys through scavenges, so every
 * request's state was promoted and left to full GCs (~100 µs of CPU per request and 2-3x the peak RSS
 * under load; docs/performance.md).
 */
const OBSERVED = Symbol('@obs/koa.observed');
type Tagged = { [OBSERVED]?: ObservedRequest };
const observedOf = (ctx: object): ObservedRequest | undefined => (ctx as Tagged)[OBSERVED];
/** Contexts whose failure was logged without an observed request (unobserved or ignored paths). */
const FAILURE_LOGGED = Symbol('@obs/koa.failure-logged');
/** Apps whose `error` event {@link logErrors} already listens to. */
const ERROR_LOGGING = new WeakSet<object>();

/** A layer as @koa/router keeps it in `ctx.matched`: its path (template or RegExp) and methods. */
interface RouterLayer {
  path: string | RegExp;
  methods: string[];
}

/** The properties @koa/router (and koa-router) set on the context while dispatching. */
interface RouterState {
  _matchedRoute?: string | RegExp;
  matched?: RouterLayer[];
}

/**
 * The route template of the request, as @koa/router (or koa-router) matched it: the full path with
 * router prefixes and the mount paths of nested routers (`/api/v1/tenants/:tenant/users/:id`), or the
 * RegExp's source form for RegExp routes. `undefined` when no route matched path and method (404,
 * 405), so unmatched requests never get a route label.
 *
 * @koa/router copies nested routers' layers into the parent with full paths, and sets
 * `ctx._matchedRoute` to the path of each layer it runs. That is the route's template once the route's
 * handler ran; but a router-level middleware (`router.use(auth)`) that answers without calling `next()`
 * leaves it at the middleware's own path pattern (`/api/v1(?:\/|$)`), which is not a route. Then, and
 * when no route handler ran at all, the template is the first layer in `ctx.matched` (the layers whose
 * path matched, across every router the request went through) that has a handler for the method.
 */
export function matchedRoute(ctx: Koa.ExtendableContext): string | undefined {
  const state = ctx as unknown as RouterState;
  const layers = Array.isArray(state.matched) ? state.matched : [];
  const last = state._matchedRoute;
  if (last !== undefined && layers.some((layer) => layer.path === last && layer.methods.length > 0)) {
    return String(last);
  }
  const method = ctx.method;
  const route = layers.find((layer) => layer.methods.includes(method));
  return route ? String(route.path) : undefined;
}

/** The Koa context of a raw request, for {@link KOA_ROUTES}. */
const KOA_CONTEXT = Symbol('@obs/koa.context');
type KoaRequest = IncomingMessage & { [KOA_CONTEXT]?: Koa.ExtendableContext };

/** What Koa knows of a request's route: {@link matchedRoute}; unmatched (404, 405) without one. */
const KOA_ROUTES: BeginOptions = {
  resolveRoute: (req) => {
    const ctx = (req as KoaRequest)[KOA_CONTEXT];
    return ctx ? matchedRoute(ctx) : undefined;
  },
  routeMatched: (req) => {
    const ctx = (req as KoaRequest)[KOA_CONTEXT];
    return ctx ? matchedRoute(ctx) !== undefined : true;
  },
};

/** Options for {@link observe}. */
export interface ObserveOptions<StateT = Koa.DefaultState, ContextT = Koa.DefaultContext> {
  /** The @obs instance. Default: the one `@obs/register` started (or a new one from the environment). */
  obs?: Obs;
  /**
   * The app's own fields for the completion line, from the request's context, e.g. `(ctx) => ({
   * 'enduser.id': ctx.state.user?.id })`. Called once per request when the response has closed; the
   * object it returns is added to the line under @obs's own fields (it cannot replace them) and
   * redacted like every field. If it throws, the line is written without them and with
   * `fields_failed: true` (reported once on stderr); the request is not affected. Default none (no
   * per-request cost). Standard fields: `OBS_HTTP_LOG_FIELDS`.
   */
  fields?: (ctx: Koa.ParameterizedContext<StateT, ContextT>) => Record<string, unknown> | undefined;
  /**
   * The app's usual pino options (as given to koa-pino-logger), applied to `ctx.log`: `level`,
   * `redact` paths and `serializers` shape its lines; `transport` (`{ target: 'pino-pretty' }` in
   * development) or `stream` takes every @obs line of the process; `false` silences `ctx.log`.
   * Anything else would change @obs's line format: one warning names what was left out. Default:
   * the @obs logger as it is.
   */
  logger?: boolean | AppLoggerOptions;
  /**
   * Call {@link logErrors} for the app on its first request, so that errors reaching Koa's `error`
   * event are logged once as JSON, in place of Koa's default stderr dump. Default true.
   */
  logErrors?: boolean;
}

/**
 * Request observer middleware. Mount it first (`app.use(observe())`). Per request it
 * - takes the request id from a well-formed `X-Request-Id` (else a new UUID), sets `ctx.state.requestId`
 *   and echoes it in the `X-Request-Id` response header;
 * - sets `ctx.log`, whose lines carry `request_id`, `trace_id` and `span_id`, and runs the rest of the
 *   middleware chain in a context that carries the request id (so any pino logger's lines do too);
 * - once the chain has settled, and before Koa writes the response, hands the route template
 *   ({@link matchedRoute}) to the server span, `http.server.request.duration` and the completion line;
 * - records an error thrown by the chain with status >= 500 (or none): one `request failed` line at
 *   level error with the stack, exception event and status ERROR on the server span; then re-throws
 *   it, so `errorHandler()` further out, Koa's own handling and `app.on('error')` listeners still work.
 *   4xx errors (`ctx.throw(400)`, a malformed body) are client errors: passed on, not recorded.
 * - writes one completion line when the response is done (`request completed`, or `request aborted`).
 */
export function observe<StateT = Koa.DefaultState, ContextT = Koa.DefaultContext>(
  options: ObserveOptions<StateT, ContextT> = {},
): ObsMiddleware<StateT, ContextT> {
  const obs = options.obs ?? getObs();
  const installErrorLogging = options.logErrors ?? true;
  const fields = options.fields;
  const appLog = options.logger === undefined ? undefined : shapeLogger(obs.logger, options.logger, '@obs/koa: logger');
  const begin: BeginOptions = fields
    ? {
        ...KOA_ROUTES,
        fields: (req) => {
          const ctx = (req as KoaRequest)[KOA_CONTEXT];
          return ctx ? fields(ctx as unknown as Koa.ParameterizedContext<StateT, ContextT>) : undefined;
        },
      }
    : KOA_ROUTES;
  obs.http.adapterLabelsRoutes('koa'); // KOA_ROUTES and labelRouteOnMatch
  return async function obsObserve(koaCtx, next) {
    const ctx = koaCtx as unknown as Ctx;
    if (observedOf(ctx)) {
      // mounted twice (e.g. in a sub-app): the outer one observes
      await next();
      return;
    }
    if (installErrorLogging) logErrors(ctx.app, { obs });
    servingOn(obs, ctx.req); // the server to drain at shutdown; the app has started
    (ctx.req as KoaRequest)[KOA_CONTEXT] = ctx;
    const observed = obs.http.begin(ctx.req, ctx.res, begin);
    (ctx as Tagged)[OBSERVED] = observed;
    labelRouteOnMatch(ctx, observed);
    ctx.log = appLog ?? observed.log;
    ctx.state.requestId = observed.id;
    ctx.set(REQUEST_ID_HEADER, observed.id);
    try {
      // @obs's server hook has made the request's context active already, unless another context
      // manager is installed or the request did not come through a server (tests)
      if (context.active() === observed.context) await next();
      else await context.with(observed.context, next);
    } catch (err) {
      if (errorStatus(err) >= 500) recordFailure(obs, ctx, err);
      // a client error: reported to error tracking only when configured for 4xx (OBS_SENTRY_MIN_STATUS)
      else observed.noteError(err);
      keepRequestIdHeader(err, observed.id);
      throw err;
    } finally {
      // Koa writes the response after the middleware chain has settled: the route is in place before.
      const route = matchedRoute(ctx);
      if (route !== undefined) observed.setRoute(route);
    }
  };
}

/**
 * Hand the route template to the server span as soon as @koa/router matches (it sets
 * `ctx._matchedRoute` before calling the route's handler), not only once the middleware chain has
 * settled: the server span ends when the connection closes, which for a client that went away is
 * before the handler is done.
 */
function labelRouteOnMatch(ctx: Ctx, observed: ObservedRequest): void {
  let value: unknown = (ctx as unknown as RouterState)._matchedRoute;
  try {
    Object.defineProperty(ctx, '_matchedRoute', {
      configurable: true,
      enumerable: true,
      get: () => value,
      set(next: unknown) {
        value = next;
        const route = matchedRoute(ctx);
        if (route !== undefined) observed.setRoute(route);
      },
    });
  } catch {
    // a context that refuses the property: the route is set when the chain settles
  }
}

/**
 * Koa's error response (`ctx.onerror`) removes every header before it sets the ones in `err.headers`:
 * add the request id there, so an error answered by Koa still echoes it.
 */
function keepRequestIdHeader(err: unknown, id: string): void {
  if (err === null || typeof err !== 'object') return;
  try {
    const e = err as { headers?: Record<string, string> };
    e.headers = { ...e.headers, [REQUEST_ID_HEADER]: id };
  } catch {
    // a frozen error: the response goes without the header
  }
}

/** The HTTP status an error asks for (`status`/`statusCode` 400..599), else 500. */

/**
 * Log a request's failure once, whichever of `observe()`, `errorHandler()` and the app's `error`
 * event sees it first: through the observed request (which also marks the server span), or, for
 * requests that are not observed (no `observe()`, or a health/metrics path), as a plain `request failed`
 * line.
 */
function recordFailure(obs: Obs, ctx: Ctx | undefined, err: unknown): void {
  const observed = ctx ? observedOf(ctx) : undefined;
  if (ctx && observed && !obs.http.isIgnored(ctx.path)) {
    observed.recordError(err);
    return;
  }
  if (ctx) {
    const tagged = ctx as { [FAILURE_LOGGED]?: true };
    if (tagged[FAILURE_LOGGED]) return;
    tagged[FAILURE_LOGGED] = true;
  }
  const log = () => obs.logger.error({ err }, 'request failed');
  if (observed) context.with(observed.context, log);
  else log();
}

/** Error codes of a client that went away: the completion line says `request aborted`, nothing failed. */
const CLIENT_GONE = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE']);

/** Options for {@link logErrors}. */
export interface LogErrorsOptions {
  obs?: Obs;
}

/**
 * Listen to the app's `error` event, where Koa reports the errors it answers itself (thrown out of the
 * middleware chain), errors of a streamed body, and errors middleware passes on with
 * `ctx.app.emit('error', err, ctx)`. Errors with status >= 500 (or none) are logged once per request at
 * level error with their stack (the same `request failed` line, never a second one when `observe()` or
 * `errorHandler()` already logged it), and mark the server span. 4xx errors and errors of clients that
 * went away (`ECONNRESET`, `EPIPE`, premature close) are not logged.
 *
 * Koa prints errors to stderr by default (a listener it adds in `app.callback()` when the app has
 * none): that default listener is removed, so an error is not also printed as text. Your own
 * `error` listeners are kept and still called. `observe()` calls this for you on the first request;
 * call it yourself when you do not use `observe()` or passed `logErrors: false`. Idempotent.
 *
 * @returns the app
 */
export function logErrors<A extends EventEmitter>(app: A, options: LogErrorsOptions = {}): A {
  if (ERROR_LOGGING.has(app)) return app;
  ERROR_LOGGING.add(app);
  const obs = options.obs ?? getObs();
  app.on('error', (err: unknown, ctx: Ctx | undefined) => {
    if (errorStatus(err) < 500) return;
    const code = (err as { code?: unknown } | null)?.code;
    if (typeof code === 'string' && CLIENT_GONE.has(code) && ctx && !ctx.res.writableFinished) return;
    recordFailure(obs, ctx, err);
  });
  const koaDefault = koaDefaultOnerror(app);
  if (koaDefault) app.removeListener('error', koaDefault as (...args: unknown[]) => void);
  return app;
}

/**
 * Koa's own `Application.prototype.onerror` (the listener `app.callback()` adds when there is none):
 * the deepest `onerror` on the app's prototype chain, so a subclass's override is not mistaken for it.
 */
function koaDefaultOnerror(app: object): unknown {
  let found: unknown;
  for (let proto = Object.getPrototypeOf(app); proto; proto = Object.getPrototypeOf(proto)) {
    if (Object.hasOwn(proto, 'onerror')) found = (proto as { onerror: unknown }).onerror;
  }
  return found;
}

/** Options for {@link errorHandler}. */
export interface ErrorHandlerOptions {
  obs?: Obs;
  /**
   * Also give a JSON body to error responses nothing wrote a body for: Koa's default 404 when no route
   * matched (`{"error":"Not found"}`), a 405 from `router.allowedMethods()` (`{"error":"Method Not
   * Allowed"}`). Default true.
   */
  emptyErrors?: boolean;
}

/**
 * JSON error bodies, in place of Koa's text ones. Mount it right after `observe()`. A thrown error is
 * answered as Koa would (its `status`, else 500; `err.headers` set; other headers reset, except
 * `X-Request-Id`), with a JSON body: `{"error":"Internal server error"}` for 5xx, the message for 4xx
 * errors that may be exposed (`ctx.throw(403, 'no access')`), else the status text (`{"error":"Bad
 * Request"}` for a malformed JSON body). 5xx errors are logged once at level error with the stack and
 * mark the server span. The error is then emitted on the app (`ctx.app.emit('error', err, ctx)`, as
 * Koa does), so your `app.on('error')` listeners still see it; {@link logErrors} does not log it twice.
 * Errors after the response has started cannot be answered: they are re-thrown to Koa.
 */
export function errorHandler<StateT = Koa.DefaultState, ContextT = Koa.DefaultContext>(
  options: ErrorHandlerOptions = {},
): ObsMiddleware<StateT, ContextT> {
  const obs = options.obs ?? getObs();
  const emptyErrors = options.emptyErrors ?? true;
  return async function obsErrorHandler(koaCtx, next) {
    const ctx = koaCtx as unknown as Ctx;
    try {
      await next();
    } catch (err) {
      if (ctx.headerSent || !ctx.writable) throw err;
      const status = errorStatus(err);
      if (status >= 500) recordFailure(obs, ctx, err);
      else observedOf(ctx)?.noteError(err);
      const e = err as { expose?: unknown; message?: unknown; headers?: Record<string, string> } | null;
      // As Koa's own error response: reset the headers the failed handler may have set, then apply
      // err.headers; the request id stays.
      for (const name of ctx.res.getHeaderNames()) if (name !== REQUEST_ID_HEADER) ctx.res.removeHeader(name);
      for (const [name, value] of Object.entries(e?.headers ?? {})) {
        const lower = name.toLowerCase();
        if (lower !== 'content-type' && lower !== 'content-length') ctx.set(name, value);
      }
      const message =
        status < 500 && e?.expose === true && typeof e.message === 'string' && e.message
          ? e.message
          : errorText(status);
      ctx.body = { error: message };
      ctx.status = status;
      if (ctx.app.listenerCount('error') > 0) ctx.app.emit('error', err, ctx);
      return;
    }
    if (emptyErrors && ctx.status >= 400 && ctx.body == null && !ctx.headerSent && ctx.respond !== false) {
      const status = ctx.status;
      ctx.body = { error: errorText(status) };
      ctx.status = status; // setting a body makes Koa's implicit 404 a 200: restore it
    }
  };
}

/** The client-facing text, but `Not found` for 404 (the reference service's wording). */
function errorText(status: number): string {
  return status === 404 ? 'Not found' : errorMessage(status);
}

/** Paths for {@link obsRoutes}. */
export interface RoutesOptions extends ObsRoutePaths {
  obs?: Obs;
}

/**
 * Middleware serving the health probes (`GET`/`HEAD`, JSON `{"status","checks"}`, 200 or 503) and the
 * Prometheus scrape. Other requests pass through. These paths are excluded from logs, traces and
 * metrics, so probes and scrapes do not drown the service's own traffic. Needs no router. Mount it
 * right after `observe()` and `errorHandler()`, before sessions, authentication and body parsers:
 * it answers without calling `next()`, so the middleware mounted after it never runs for probes.
 *
 * With a management port (`OBS_MANAGEMENT_PORT` or the `managementPort` option) the routes are served
 * on @obs's own server on that port instead, and this middleware passes every request on.
 */
export function obsRoutes<StateT = Koa.DefaultState, ContextT = Koa.DefaultContext>(
  options: RoutesOptions = {},
): ObsMiddleware<StateT, ContextT> {
  const obs = options.obs ?? getObs();
  const routes = new Map(obsRouteTable(obs, options).map((route) => [route.path, route]));

  return async function obsHealthAndMetrics(ctx, next) {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
    const route = routes.get(ctx.path);
    if (!route) return next();
    if (route.kind !== 'metrics') servingOn(obs, ctx.req);
    const { statusCode, contentType, body } = await route.answer(ctx.get('accept') || undefined);
    ctx.body = body;
    ctx.type = contentType;
    ctx.status = statusCode;
  };
}
