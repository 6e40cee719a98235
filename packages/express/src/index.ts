/**
 * @obs/express: Express 5 glue for @obs/core. Everything that is not about Express (request ids,
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
import {
  type BeginOptions,
  errorMessage,
  errorStatus,
  getObs,
  type Obs,
  type ObservedRequest,
  type ObsLogger,
  opentelemetry,
  REQUEST_ID_HEADER,
  servingOn,
} from '@obs/core';
import { type ErrorRequestHandler, type RequestHandler, Router } from 'express';

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

const OBSERVED = Symbol('@obs/express.observed');

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
}

/**
 * Request observer middleware. Mount it first. It sets `req.id` and `req.log`, echoes the request id
 * in the `X-Request-Id` response header, runs the rest of the request in a context that carries the
 * id, and writes one completion line per request (see @obs/core's request observer).
 */
export function observe(options: ObserveOptions = {}): RequestHandler {
  const obs = options.obs ?? getObs();
  const observer = obs.http;
  return function obsObserve(req, res, next) {
    servingOn(obs, req); // the server to drain at shutdown; the app has started
    const observed = observer.begin(req, res, EXPRESS_ROUTES);
    req.id = observed.id;
    req.log = observed.log;
    (req as unknown as Record<symbol, ObservedRequest>)[OBSERVED] = observed;
    res.setHeader(REQUEST_ID_HEADER, observed.id);
    // @obs's server hook has made the request's context active already, unless another context
    // manager is installed or the request did not come through a server (tests)
    if (context.active() === observed.context) next();
    else context.with(observed.context, next);
  };
}

/** Paths for {@link obsRoutes}. */
export interface RoutesOptions {
  obs?: Obs;
  /** Default `/health/live` (Kubernetes liveness probe). */
  livePath?: string;
  /** Default `/health/ready` (Kubernetes readiness probe). */
  readyPath?: string;
  /** Default `/health/started` (Kubernetes startup probe). */
  startedPath?: string;
  /** Default `/metrics` (Prometheus text exposition 0.0.4). `false` to not serve metrics. */
  metricsPath?: string | false;
}

/**
 * A Router serving the health probes and the Prometheus scrape. These routes are excluded from
 * logs, traces and metrics, so probes and scrapes do not drown the service's own traffic.
 */
export function obsRoutes(options: RoutesOptions = {}): Router {
  const obs = options.obs ?? getObs();
  const livePath = options.livePath ?? '/health/live';
  const readyPath = options.readyPath ?? '/health/ready';
  const startedPath = options.startedPath ?? '/health/started';
  const metricsPath = options.metricsPath ?? '/metrics';
  const router = Router();
  for (const path of [livePath, readyPath, startedPath, metricsPath]) if (path) obs.http.ignorePath(path);

  const probes = [
    [livePath, () => obs.health.live()],
    [readyPath, () => obs.health.ready()],
    [startedPath, () => obs.health.startup()],
  ] as const;
  for (const [path, answer] of probes) {
    router.get(path, async (req, res) => {
      servingOn(obs, req);
      const { statusCode, body } = await answer();
      res.status(statusCode).json(body);
    });
  }
  if (metricsPath) {
    router.get(metricsPath, async (_req, res) => {
      const { contentType, body } = await obs.metrics.render();
      res.status(200).type(contentType).send(body);
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
    const observed = (req as unknown as Record<symbol, ObservedRequest | undefined>)[OBSERVED];
    if (status >= 500) {
      if (observed) observed.recordError(err);
      else obs.logger.error({ err }, 'request failed');
    } else {
      // a client error: reported to error tracking only when configured for 4xx (OBS_SENTRY_MIN_STATUS)
      observed?.noteError(err);
    }
    if (!respond || res.headersSent) {
      next(err);
      return;
    }
    res.status(status).json({ error: errorMessage(status) });
  };
}
