/**
 * @obs/express: Express 4 and 5 glue for @obs/core. Everything that is not about Express (request ids,
 * logging, route labelling, error recording, health, metrics rendering) lives in core.
 *
 * ```js
 * import express from 'express';
 * import { observe, obsRoutes, notFound, errorHandler } from '@obs/express';
 *
 * const app = express();
 * app.use(observe());        // first: request id, request logger, completion log line
 * app.use(obsRoutes());      // GET /health/live, /health/ready, /health/started, /metrics
 * app.use(express.json());
 * // ... your routes ...
 * app.use(notFound());       // JSON 404
 * app.use(errorHandler());   // last: logs the error with its stack, marks the span, JSON 500
 * ```
 * Start the process with `node --import @obs/register server.js`.
 */
import type { IncomingMessage } from 'node:http';
import type { CompletionFields } from '@obs/core';
import {
  type BeginOptions,
  errorMessage,
  errorStatus,
  getObs,
  type Obs,
  type ObsLogger,
  type ObsRoutePaths,
  obsRouteTable,
  opentelemetry,
  REQUEST_ID_HEADER,
  servingOn,
} from '@obs/core';
import { type ErrorRequestHandler, type Request, type RequestHandler, type Response, Router } from 'express';

// @obs/core's (CommonJS) build of the API: one copy of OpenTelemetry in the process
const { context } = opentelemetry;

declare global {
  namespace Express {
    interface Request {
      /** The request id (`X-Request-Id` when well-formed, else a new UUID). Set by `observe()`. */
      id: string;
      /** Logger for this request: lines carry `request_id`, `trace_id`, `span_id`. Set by `observe()`. */
      log: ObsLogger;
    }
  }
}

// The core API, so that an Express app needs only this package: `import { getObs } from '@obs/express'`.
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

type ExpressRequest = IncomingMessage & { route?: { path?: unknown }; baseUrl?: string };

/** What Express knows of a request's route: `req.route`, set when a route (app.get, router.post, ...) handles it. */
const EXPRESS_ROUTES: BeginOptions = {
  resolveRoute: (req) => {
    const { route, baseUrl } = req as ExpressRequest;
    return route ? `${baseUrl ?? ''}${String(route.path)}` : undefined;
  },
  routeMatched: (req) => (req as ExpressRequest).route !== undefined,
};

/** Options for {@link observe}. */
export interface ObserveOptions {
  /** The @obs instance. Default: the one `@obs/register` started (or a new one from the environment). */
  obs?: Obs;
  /**
   * The app's own fields for the completion line, e.g. `(req) => ({ 'enduser.id': req.user?.id })`.
   * Called once per request when the response has closed; the object it returns is added to the line
   * under @obs's own fields (it cannot replace them) and redacted like every field. If it throws, the
   * line is written without them and with `fields_failed: true` (reported once on stderr); the request
   * is not affected. Default none (no per-request cost). Standard fields: `OBS_HTTP_LOG_FIELDS`.
   */
  fields?: (req: Request, res: Response) => Record<string, unknown> | undefined;
}

/**
 * Request observer middleware. Mount it first. It sets `req.id` and `req.log`, echoes the request id
 * in the `X-Request-Id` response header, runs the rest of the request in a context that carries the
 * id, and writes one completion line per request (see @obs/core's request observer).
 */
export function observe(options: ObserveOptions = {}): RequestHandler {
  const obs = options.obs ?? getObs();
  const observer = obs.http;
  const begin: BeginOptions = options.fields
    ? { ...EXPRESS_ROUTES, fields: options.fields as unknown as CompletionFields }
    : EXPRESS_ROUTES;
  return function obsObserve(req, res, next) {
    servingOn(obs, req); // the server to drain at shutdown; the app has started
    const observed = observer.begin(req, res, begin);
    req.id = observed.id;
    req.log = observed.log;
    res.setHeader(REQUEST_ID_HEADER, observed.id);
    // @obs's server hook has made the request's context active already, unless another context
    // manager is installed or the request did not come through a server (tests)
    if (context.active() === observed.context) next();
    else context.with(observed.context, next);
  };
}

/** Paths for {@link obsRoutes}. */
export interface RoutesOptions extends ObsRoutePaths {
  obs?: Obs;
}

/**
 * A Router serving the health probes and the Prometheus scrape (@obs/core's route table: `GET
 * /health/live`, `/health/ready`, `/health/started`, `/metrics`). These routes are excluded from
 * logs, traces and metrics, so probes and scrapes do not drown the service's own traffic. Mount it
 * right after `observe()`, before any other middleware (sessions, authentication, body parsers):
 * Express runs middleware in the order it was mounted, so the probes then skip all of it.
 *
 * With a management port (`OBS_MANAGEMENT_PORT` or the `managementPort` option) the routes are served
 * on @obs's own server on that port instead, and the router returned here is empty.
 */
export function obsRoutes(options: RoutesOptions = {}): Router {
  const obs = options.obs ?? getObs();
  const router = Router();
  for (const route of obsRouteTable(obs, options)) {
    router.get(route.path, async (req, res) => {
      if (route.kind !== 'metrics') servingOn(obs, req);
      const { statusCode, contentType, body } = await route.answer(req.headers.accept);
      // as it is: Express 4's res.send() rewrites the content type (`charset` moved before `version`)
      res.statusCode = statusCode;
      res.setHeader('content-type', contentType);
      res.setHeader('content-length', Buffer.byteLength(body));
      res.end(body);
    });
  }
  return router;
}

/** A JSON 404 for requests no route matched: `{"error":"Not found"}`. Mount after your routes. */
export function notFound(): RequestHandler {
  return function obsNotFound(_req, res) {
    res.status(404).json({ error: 'Not found' });
  };
}

/** Options for {@link errorHandler}. */
export interface ErrorHandlerOptions {
  obs?: Obs;
  /**
   * Answer the error as JSON (`{"error":"Internal server error"}` for 5xx, the status text for 4xx
   * errors such as a malformed JSON body). Default true; with false the error is recorded and passed
   * on with `next(err)` to your own handler.
   */
  respond?: boolean;
}

/**
 * Error middleware. Mount it last. For 5xx errors it logs the error with its stack at level error
 * (once per request) and marks the server span (exception event, status ERROR). 4xx errors (e.g.
 * body-parser's 400 for malformed JSON) are client errors: answered, not recorded as failures.
 */
export function errorHandler(options: ErrorHandlerOptions = {}): ErrorRequestHandler {
  const obs = options.obs ?? getObs();
  const respond = options.respond ?? true;
  return function obsErrorHandler(err, req, res, next) {
    const status = errorStatus(err);
    obs.http.failed(req, err, status);
    if (!respond || res.headersSent) {
      next(err);
      return;
    }
    res.status(status).json({ error: errorMessage(status) });
  };
}
