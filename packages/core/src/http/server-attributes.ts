/**
 * The attributes of an HTTP server request, as the stable HTTP semantic conventions define them:
 * the SERVER span's ("HTTP server span", semconv 1.27+: required `http.request.method`, `url.path`,
 * `url.scheme`, `http.response.status_code`, `http.route`, `error.type`; recommended `server.address`,
 * `server.port`, `client.address`, `network.peer.address`, `network.peer.port`,
 * `network.protocol.version`, `user_agent.original`, `url.query`) and the `http.server.request.duration`
 * histogram's (`http.request.method`, `url.scheme`, `network.protocol.version`, `http.route`,
 * `http.response.status_code`, `error.type`).
 *
 * Written for the request path: no `new URL()` for origin-form targets, and one frozen attribute object
 * per metric series, reused for every record of that series.
 */

import type { IncomingMessage } from 'node:http';
import type { Attributes } from '@opentelemetry/api';
import { semconv } from '../otel.js';

const {
  ATTR_CLIENT_ADDRESS,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_METHOD_ORIGINAL,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PEER_ADDRESS,
  ATTR_NETWORK_PEER_PORT,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_PATH,
  ATTR_URL_QUERY,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
} = semconv;

/** The methods semconv knows ("HTTP request method"); any other is `_OTHER` and its span is named `HTTP`. */
const KNOWN_METHODS = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
  'QUERY',
]);

/** `http.request.method`: the method when semconv knows it (case-sensitive, as the spec says), else `_OTHER`. */
export function normalizeMethod(method: string | undefined): string {
  if (method === undefined) return 'GET';
  return KNOWN_METHODS.has(method) ? method : '_OTHER';
}

/**
 * The span name (semconv "Name"): `{method} {http.route}`, `{method}` without a route, and `HTTP` for
 * methods outside the known set.
 */
export function serverSpanName(method: string, route: string | undefined): string {
  if (method === '_OTHER') return route ? `HTTP ${route}` : 'HTTP';
  return route ? `${method} ${route}` : method;
}

/** The parts of a request target (origin-form `/a?b`, absolute-form `http://u:p@h/a?b#f`, `*`). */
export interface Target {
  /** `url.path`: never userinfo, query or fragment. */
  readonly path: string;
  /** `url.query` without the `?`, or undefined. Not yet redacted. */
  readonly query: string | undefined;
}

const ROOT_TARGET: Target = Object.freeze({ path: '/', query: undefined });

/**
 * Split a request target into path and query, dropping any fragment (clients should never send one;
 * some do, and an `access_token` in a fragment is a secret) and, for absolute-form targets, the scheme,
 * userinfo and host, which are not part of `url.path`.
 */
export function parseTarget(url: string | undefined): Target {
  if (!url) return ROOT_TARGET;
  let target = url;
  if (target.charCodeAt(0) !== 47 /* / */) {
    // absolute-form (a proxy request) or asterisk-form: rare, so the URL parser may do the work
    try {
      const parsed = new URL(target);
      return { path: parsed.pathname || '/', query: parsed.search ? parsed.search.slice(1) : undefined };
    } catch {
      return { path: target === '*' ? '*' : '/', query: undefined };
    }
  }
  const hash = target.indexOf('#');
  if (hash !== -1) target = target.slice(0, hash);
  const q = target.indexOf('?');
  if (q === -1) return { path: target, query: undefined };
  return { path: target.slice(0, q), query: q + 1 < target.length ? target.slice(q + 1) : undefined };
}

/** `server.address` and `server.port` from the `Host` header (semconv: from the request's authority). */
function hostOf(host: string | undefined, defaultPort: number): { address: string; port: number } | undefined {
  if (!host) return undefined;
  const close = host.charCodeAt(0) === 91 /* [ */ ? host.indexOf(']') : -1;
  const colon = host.indexOf(':', close === -1 ? 0 : close);
  if (colon === -1) return { address: close === -1 ? host : host.slice(1, close), port: defaultPort };
  const port = Number(host.slice(colon + 1));
  const address = close === -1 ? host.slice(0, colon) : host.slice(1, close);
  return { address, port: Number.isInteger(port) ? port : defaultPort };
}

/** `client.address`: the first `X-Forwarded-For` entry when present, else the peer's address. */
function clientAddressOf(req: IncomingMessage): string | undefined {
  const forwarded = req.headers['x-forwarded-for'];
  const first = Array.isArray(forwarded) ? forwarded[0] : forwarded;
  if (first) {
    const comma = first.indexOf(',');
    return (comma === -1 ? first : first.slice(0, comma)).trim();
  }
  return req.socket?.remoteAddress;
}

/**
 * The SERVER span's start attributes.
 * @param redactQuery turns a raw query string into the one recorded (secret parameters' values replaced)
 */
export function serverSpanAttributes(
  req: IncomingMessage,
  method: string,
  scheme: 'http' | 'https',
  target: Target,
  redactQuery: (query: string) => string,
): Attributes {
  const socket = req.socket;
  const attributes: Attributes = {
    [ATTR_HTTP_REQUEST_METHOD]: method,
    [ATTR_URL_SCHEME]: scheme,
    [ATTR_URL_PATH]: target.path,
    [ATTR_NETWORK_PROTOCOL_VERSION]: req.httpVersion,
    [ATTR_NETWORK_PEER_ADDRESS]: socket?.remoteAddress,
    [ATTR_NETWORK_PEER_PORT]: socket?.remotePort,
    [ATTR_CLIENT_ADDRESS]: clientAddressOf(req),
    [ATTR_USER_AGENT_ORIGINAL]: req.headers['user-agent'],
  };
  if (method === '_OTHER') attributes[ATTR_HTTP_REQUEST_METHOD_ORIGINAL] = req.method;
  if (target.query !== undefined) attributes[ATTR_URL_QUERY] = redactQuery(target.query);
  const host = hostOf(req.headers.host, scheme === 'https' ? 443 : 80);
  if (host) {
    attributes[ATTR_SERVER_ADDRESS] = host.address;
    attributes[ATTR_SERVER_PORT] = host.port;
  }
  return attributes;
}

/** `error.type` of a finished response: its status code for 5xx (semconv, server side), else undefined. */
export function statusErrorType(statusCode: number): string | undefined {
  return statusCode >= 500 && statusCode < 600 ? String(statusCode) : undefined;
}

/** Most series kept with a cached attribute object; past it, each record builds its own (still correct). */
const MAX_CACHED_SERIES = 2000;

/**
 * Attribute objects for `http.server.request.duration`, one per series, built once and reused. The
 * metric SDK keys its series by the attribute values, so reuse changes nothing it stores; it only saves
 * building and collecting a new object per request.
 */
export class MetricAttributeCache {
  readonly #series = new Map<string, Attributes>();

  /**
   * @param statusCode undefined when no response was sent (the client went away first)
   * @param errorType `error.type` (the 5xx status code, or the error class that ended the response)
   */
  get(
    method: string,
    scheme: string,
    protocolVersion: string,
    route: string | undefined,
    statusCode: number | undefined,
    errorType: string | undefined,
  ): Attributes {
    const key = `${method} ${scheme} ${protocolVersion} ${statusCode} ${errorType ?? ''} ${route ?? ''}`;
    let attributes = this.#series.get(key);
    if (attributes === undefined) {
      attributes = { [ATTR_HTTP_REQUEST_METHOD]: method, [ATTR_URL_SCHEME]: scheme };
      if (protocolVersion) attributes[ATTR_NETWORK_PROTOCOL_VERSION] = protocolVersion;
      if (route !== undefined) attributes[ATTR_HTTP_ROUTE] = route;
      if (statusCode !== undefined) attributes[ATTR_HTTP_RESPONSE_STATUS_CODE] = statusCode;
      if (errorType !== undefined) attributes[ATTR_ERROR_TYPE] = errorType;
      Object.freeze(attributes);
      if (this.#series.size < MAX_CACHED_SERIES) this.#series.set(key, attributes);
    }
    return attributes;
  }
}
