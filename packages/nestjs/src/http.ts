/**
 * Request observation for NestJS on platform-express and platform-fastify.
 *
 * @obs/core's server hook starts each request's observation (request id, SERVER span, the context
 * that carries them) before Express or Fastify see the request, so the completion line and the
 * context cover everything the platform does (body parsing errors, Fastify's hooks, guards, the
 * not-found handler), and Fastify's OpenTelemetry plugin (`@fastify/otel`, opt-in), which builds its
 * request context from the active one, keeps the request id too. A `request` listener placed before
 * the platform's hands over what Nest knows (see {@link observeServer}).
 *
 * What the platform knows is collected on the way: the route template (Express `req.route`, which the
 * express instrumentation also hands to the server span through the OpenTelemetry RPC metadata;
 * Fastify `request.routeOptions.url`, which this module hands over itself), whether Nest's not-found
 * handler answered, and the exception Nest's pipeline handled.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { types } from 'node:util';
import { type BeginOptions, type CompletionFields, getObs, type ObservedRequest, REQUEST_ID_HEADER } from '@obs/core';
import { context } from '@opentelemetry/api';

/** What @obs/nestjs keeps about one request, keyed by Node's request object. */
interface RequestState {
  readonly platform: string;
  observed: ObservedRequest;
  /** Nest's not-found handler answered: no route matched. */
  unmatched: boolean;
  /** The last exception the Nest pipeline handled for this request (see {@link noteException}). */
  exception?: { value: unknown };
}

/**
 * Per-request state lives on Node's request object under a symbol, and noted exceptions carry a
 * symbol too: a WeakMap keyed by per-request objects makes V8 keep the values of young keys through
 * scavenges, so per-request state was promoted and collected by full GCs (on Koa, where @obs/koa did
 * the same: ~100 µs of CPU per request and 2-3x the peak RSS; docs/performance.md).
 */
const STATE = Symbol('@obs/nestjs.request');
type Tagged = { [STATE]?: RequestState };
const NOTED = Symbol('@obs/nestjs.noted');
/** Noted exceptions that cannot carry {@link NOTED}: proxies (their traps are never run), frozen or non-extensible objects. */
const notedSealed = new WeakSet<object>();
const WRAPPED = Symbol.for('@obs/nestjs.observed-server');
const PATCHED = Symbol.for('@obs/nestjs.not-found-patched');

/**
 * Node's request object behind a platform request: Express's request is Node's, Fastify's has it as
 * `raw`. Undefined for anything else.
 */
export function rawRequestOf(req: unknown): IncomingMessage | undefined {
  if (!req || typeof req !== 'object') return undefined;
  const raw = (req as { raw?: unknown }).raw;
  if (raw && typeof raw === 'object' && (raw as Tagged)[STATE]) return raw as IncomingMessage;
  return (req as Tagged)[STATE] ? (req as IncomingMessage) : undefined;
}

function stateOf(req: unknown): RequestState | undefined {
  const raw = rawRequestOf(req);
  return raw ? (raw as Tagged)[STATE] : undefined;
}

/**
 * The @obs view of a request being handled (request id, logger, context), from the platform's request
 * object (Express `req` or Fastify `request`). Undefined when the request was not observed (no HTTP
 * server wired, or a request object from elsewhere).
 */
export function observedRequestOf(req: unknown): ObservedRequest | undefined {
  return stateOf(req)?.observed;
}

/**
 * Remember the exception the Nest pipeline is handling for `req` (the platform's request object). If
 * the response then ends with a 5xx status, @obs records it once: `request failed` at level error with
 * the stack, exception event and status ERROR on the server span. 4xx answers are never recorded,
 * whatever filter produced them.
 */
export function noteException(req: unknown, exception: unknown): void {
  const state = stateOf(req);
  if (!state) return;
  state.exception = { value: exception };
  if (exception && typeof exception === 'object') {
    if (types.isProxy(exception)) {
      notedSealed.add(exception); // never run a proxy's traps
      return;
    }
    try {
      // not enumerable: invisible to serializers and error reporters
      Object.defineProperty(exception, NOTED, { value: true, configurable: true });
    } catch {
      notedSealed.add(exception); // frozen, sealed or non-extensible
    }
  }
}

/** Was this exception noted for a request by {@link noteException} (so that @obs, not Nest, reports it)? */
export function wasNoted(exception: unknown): boolean {
  if (!exception || typeof exception !== 'object') return false;
  if (notedSealed.has(exception)) return true;
  // own property only (an object created from a noted one is not noted); proxies are in the WeakSet
  return !types.isProxy(exception) && Object.hasOwn(exception, NOTED);
}

function routeOf(req: IncomingMessage, state: RequestState): string | undefined {
  if (state.unmatched) return undefined;
  const expressReq = req as IncomingMessage & { route?: { path?: unknown }; baseUrl?: unknown };
  if (expressReq.route && typeof expressReq.route.path === 'string') {
    return `${typeof expressReq.baseUrl === 'string' ? expressReq.baseUrl : ''}${expressReq.route.path}`;
  }
  return undefined; // platform-fastify: set from the onRequest hook (labelFastifyRoutes)
}

function routeMatched(req: IncomingMessage, state: RequestState): boolean {
  if (state.unmatched) return false;
  // Express sets req.route only when a route handled the request (not for body-parser errors);
  // Fastify routes before any hook runs, and Nest's not-found handler sets `unmatched`.
  if (state.platform === 'express') return (req as { route?: unknown }).route !== undefined;
  return true;
}

/** What the platform knows of a request's route (see {@link routeOf}, {@link routeMatched}). */
const NEST_ROUTES: BeginOptions = {
  resolveRoute: (req) => {
    const state = (req as Tagged)[STATE];
    return state ? routeOf(req, state) : undefined;
  },
  routeMatched: (req) => {
    const state = (req as Tagged)[STATE];
    return state ? routeMatched(req, state) : true;
  },
};

/** 'prefinish': the response is complete, the server span not yet ended: record the noted exception. */
function recordNotedException(this: ServerResponse): void {
  const state = (this.req as (IncomingMessage & Tagged) | undefined)?.[STATE];
  if (!state?.exception) return;
  if (this.statusCode >= 500) state.observed.recordError(state.exception.value);
  // a client error: reported to error tracking only when configured for 4xx (OBS_SENTRY_MIN_STATUS);
  // not the not-found handler's NotFoundException (no route is no error, as on the other adapters)
  else if (!state.unmatched) state.observed.noteError(state.exception.value);
}

/** What Nest's requests begin with: the route callbacks, and the app's completion-line fields if any. */
function beginOptions(fields: CompletionFields | undefined): BeginOptions {
  return fields ? { ...NEST_ROUTES, fields } : NEST_ROUTES;
}

function begin(platform: string, req: IncomingMessage, res: ServerResponse, options: BeginOptions): RequestState {
  const state = { platform, unmatched: false } as RequestState;
  (req as Tagged)[STATE] = state;
  state.observed = getObs().http.begin(req, res, options);
  if (!res.headersSent) res.setHeader(REQUEST_ID_HEADER, state.observed.id);
  res.once('prefinish', recordNotedException);
  return state;
}

/**
 * Observe every request `server` receives: a `request` listener placed before the platform's (Express's
 * app or Fastify's handler) collects what Nest knows of the request. @obs/core's server hook has
 * started the request's observation and made its context active by then. Idempotent.
 * @param platform `express` or `fastify` (the Nest adapter's `getType()`)
 * @param fields the module's `fields` option (the app's completion-line fields), if any
 * @returns false when the server has no request listener (nothing to observe)
 */
export function observeServer(server: Server, platform: string, fields?: CompletionFields): boolean {
  const holder = server as Server & { [WRAPPED]?: true };
  if (holder[WRAPPED]) return true;
  if (server.listenerCount('request') === 0) return false;
  holder[WRAPPED] = true;
  const options = beginOptions(fields);
  server.prependListener('request', function obsObserveRequest(req: IncomingMessage, res: ServerResponse) {
    begin(platform, req, res, options);
    // the platform's listener runs next, in this synchronous run: in the request's context, even
    // when a library that wraps the server's emit (Sentry) replaced it
    getObs().http.reenter(req);
  });
  return true;
}

/** The parts of a Nest HTTP adapter used here (`AbstractHttpAdapter`). */
export interface AdapterLike {
  getType(): string;
  getHttpServer(): unknown;
  getInstance(): unknown;
  setNotFoundHandler?: (handler: (...args: unknown[]) => unknown, ...rest: unknown[]) => unknown;
}

/**
 * Make Nest's not-found handler mark the requests it answers as unmatched (no `http.route` on the
 * span, the metric and the completion line, whatever mount path an instrumentation recorded). Must run
 * before Nest registers that handler (`onModuleInit` does). Idempotent.
 */
export function markNotFoundHandler(adapter: AdapterLike): void {
  const original = adapter.setNotFoundHandler;
  if (typeof original !== 'function' || (original as { [PATCHED]?: true })[PATCHED]) return;
  const patched = function (this: unknown, handler: (...args: unknown[]) => unknown, ...rest: unknown[]) {
    const obsNotFound = function (this: unknown, req: unknown, ...args: unknown[]) {
      const state = stateOf(req);
      if (state) state.unmatched = true;
      return handler.call(this, req, ...args);
    };
    return original.call(this, obsNotFound, ...rest);
  };
  (patched as { [PATCHED]?: true })[PATCHED] = true;
  adapter.setNotFoundHandler = patched;
}

const HANDLE_WRAPPED = Symbol.for('@obs/nestjs.express-handle-wrapped');
type ExpressHandle = (this: unknown, req: IncomingMessage, res: ServerResponse, ...rest: unknown[]) => unknown;

/**
 * On platform-express, observe the requests that do not come through the server: an in-process
 * request, made by calling the Express app (`adapter.getInstance()`) with a request and response of
 * its own (docs/reference-service.md). Express's app function calls `app.handle`, which this wraps: a
 * request the server's listener has not begun is begun here, and the app handles it in its context.
 * Idempotent.
 * @param fields the module's `fields` option, for the requests observed from here
 */
export function observeExpressInstance(instance: unknown, fields?: CompletionFields): void {
  const app = instance as { handle?: ExpressHandle; [HANDLE_WRAPPED]?: true } | undefined;
  if (typeof app?.handle !== 'function' || app[HANDLE_WRAPPED]) return;
  const handle = app.handle;
  const options = beginOptions(fields);
  app.handle = function obsExpressHandle(this: unknown, req, res, ...rest) {
    if ((req as Tagged)[STATE]) return handle.call(this, req, res, ...rest);
    const state = begin('express', req, res, options);
    return context.with(state.observed.context, () => handle.call(this, req, res, ...rest));
  };
  app[HANDLE_WRAPPED] = true;
}

interface FastifyRequestLike {
  raw: IncomingMessage;
  is404?: boolean;
  routeOptions?: { url?: string };
}
type FastifyHook = (request: FastifyRequestLike, reply: { raw: ServerResponse }, done: () => void) => void;

/**
 * On platform-fastify, observe the requests that do not come through the server (Fastify's
 * `inject()`), and put the route template of each observed request
 * (`request.routeOptions.url`, which Fastify knows before any hook runs) on the server span, the
 * metric and the completion line, from an `onRequest` hook: in place even when the response never
 * finishes (the client went away), since the server span ends on `close`. Nest registers its
 * middleware runner (middie) while the application is created, before any module code runs, so a
 * request that a Nest middleware answers itself (a 401, a 429) never reaches this hook and carries no
 * route, as on platform-express (where the route is known only once a route handler runs).
 * @param fields the module's `fields` option, for the requests observed from here (`inject()`)
 */
export function labelFastifyRoutes(instance: unknown, fields?: CompletionFields): void {
  const fastify = instance as { addHook?: (name: string, hook: FastifyHook) => unknown };
  if (typeof fastify?.addHook !== 'function') return;
  const options = beginOptions(fields);
  try {
    fastify.addHook('onRequest', function obsFastifyRequest(request, reply, done) {
      const seen = (request.raw as Tagged)[STATE];
      // not through the server (Fastify's inject()): observe from here, and run the rest in its context
      const state = seen ?? begin('fastify', request.raw, reply.raw, options);
      const url = request.routeOptions?.url;
      if (typeof url === 'string' && !request.is404) state.observed.setRoute(url);
      if (seen) done();
      else context.with(state.observed.context, done);
    });
  } catch (err) {
    // Fastify refuses hooks once it is ready: routes then come only from `@fastify/otel`, if enabled.
    getObs().logger.warn({ err }, '@obs/nestjs: could not add its Fastify onRequest hook');
  }
}
