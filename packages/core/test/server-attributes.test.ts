/**
 * The HTTP server attribute helpers (src/http/server-attributes.ts) on their own: method
 * normalisation, span names, request-target parsing, `server.*`/`client.*` from the headers, the 5xx
 * `error.type` and the metric attribute cache. Written from the surviving StrykerJS mutants of that
 * module (docs/testing.md, "Mutation testing"); server-hook.test.ts proves the same through a real server.
 */

import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import {
  MetricAttributeCache,
  normalizeMethod,
  parseTarget,
  serverSpanAttributes,
  serverSpanName,
  statusErrorType,
} from '../src/http/server-attributes.js';

/** The request fields serverSpanAttributes reads, as node:http fills them in. */
function request(fields: {
  method?: string;
  headers?: Record<string, string | string[]>;
  socket?: { remoteAddress?: string; remotePort?: number } | null;
}): IncomingMessage {
  return {
    method: fields.method ?? 'GET',
    httpVersion: '1.1',
    headers: fields.headers ?? {},
    socket: fields.socket === undefined ? { remoteAddress: '10.0.0.7', remotePort: 50123 } : fields.socket,
  } as unknown as IncomingMessage;
}

const noRedaction = (query: string) => query;

describe('normalizeMethod', () => {
  it('keeps every method semconv knows, case-sensitively, and maps the rest to _OTHER', () => {
    for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'QUERY']) {
      expect(normalizeMethod(method)).toBe(method);
    }
    expect(normalizeMethod('get')).toBe('_OTHER');
    expect(normalizeMethod('PURGE')).toBe('_OTHER');
    expect(normalizeMethod('')).toBe('_OTHER');
    expect(normalizeMethod(undefined)).toBe('GET');
  });
});

describe('serverSpanName', () => {
  it('is "{method} {route}", "{method}" without a route, and HTTP for an unknown method', () => {
    expect(serverSpanName('GET', '/users/:id')).toBe('GET /users/:id');
    expect(serverSpanName('POST', undefined)).toBe('POST');
    expect(serverSpanName('_OTHER', '/users/:id')).toBe('HTTP /users/:id');
    expect(serverSpanName('_OTHER', undefined)).toBe('HTTP');
  });
});

describe('parseTarget', () => {
  it('splits an origin-form target into path and query and drops the fragment', () => {
    expect(parseTarget('/a/b?x=1&y=2')).toEqual({ path: '/a/b', query: 'x=1&y=2' });
    expect(parseTarget('/a/b')).toEqual({ path: '/a/b', query: undefined });
    expect(parseTarget('/a?x=1#access_token=s3cret')).toEqual({ path: '/a', query: 'x=1' });
    expect(parseTarget('/a#frag?x=1')).toEqual({ path: '/a', query: undefined });
  });

  it('records no url.query for a bare "?"', () => {
    expect(parseTarget('/a?')).toEqual({ path: '/a', query: undefined });
    expect(parseTarget('/?q')).toEqual({ path: '/', query: 'q' });
  });

  it('is "/" without a target', () => {
    expect(parseTarget(undefined)).toEqual({ path: '/', query: undefined });
    expect(parseTarget('')).toEqual({ path: '/', query: undefined });
  });

  it('keeps only path and query of an absolute-form target (no scheme, userinfo, host or fragment)', () => {
    expect(parseTarget('http://user:pw@example.com:8080/p/q?x=1#f')).toEqual({ path: '/p/q', query: 'x=1' });
    expect(parseTarget('http://example.com')).toEqual({ path: '/', query: undefined });
    expect(parseTarget('http://example.com/p?')).toEqual({ path: '/p', query: undefined });
    expect(parseTarget('urn:')).toEqual({ path: '/', query: undefined });
  });

  it('keeps the asterisk-form and maps an unparseable target to "/"', () => {
    expect(parseTarget('*')).toEqual({ path: '*', query: undefined });
    expect(parseTarget('not a url?x=1')).toEqual({ path: '/', query: undefined });
  });
});

describe('serverSpanAttributes', () => {
  it('records method, scheme, path, protocol, peer, client and user agent', () => {
    const attributes = serverSpanAttributes(
      request({ headers: { 'user-agent': 'ua/1.0' } }),
      'GET',
      'http',
      parseTarget('/a'),
      noRedaction,
    );
    expect(attributes).toStrictEqual({
      'http.request.method': 'GET',
      'url.scheme': 'http',
      'url.path': '/a',
      'network.protocol.version': '1.1',
      'network.peer.address': '10.0.0.7',
      'network.peer.port': 50123,
      'client.address': '10.0.0.7',
      'user_agent.original': 'ua/1.0',
    });
  });

  it('records the original method only for _OTHER', () => {
    const other = serverSpanAttributes(request({ method: 'PURGE' }), '_OTHER', 'http', parseTarget('/'), noRedaction);
    expect(other['http.request.method_original']).toBe('PURGE');
    const known = serverSpanAttributes(request({ method: 'GET' }), 'GET', 'http', parseTarget('/'), noRedaction);
    expect('http.request.method_original' in known).toBe(false);
  });

  it('records url.query through the redaction, and none without a query', () => {
    const redact = (query: string) => query.replace('s3cret', 'REDACTED');
    const withQuery = serverSpanAttributes(request({}), 'GET', 'http', parseTarget('/a?token=s3cret'), redact);
    expect(withQuery['url.query']).toBe('token=REDACTED');
    const without = serverSpanAttributes(request({}), 'GET', 'http', parseTarget('/a'), redact);
    expect('url.query' in without).toBe(false);
  });

  it('takes server.address and server.port from Host, with the scheme default port', () => {
    const at = (host: string | undefined, scheme: 'http' | 'https') => {
      const attributes = serverSpanAttributes(
        request({ headers: host === undefined ? {} : { host } }),
        'GET',
        scheme,
        parseTarget('/'),
        noRedaction,
      );
      return [attributes['server.address'], attributes['server.port']];
    };
    expect(at('example.com', 'http')).toEqual(['example.com', 80]);
    expect(at('example.com', 'https')).toEqual(['example.com', 443]);
    expect(at('example.com:8080', 'http')).toEqual(['example.com', 8080]);
    expect(at('example.com:x', 'https')).toEqual(['example.com', 443]);
    expect(at('[::1]:9000', 'http')).toEqual(['::1', 9000]);
    expect(at('[::1]', 'https')).toEqual(['::1', 443]);
    expect(at('[2001:db8::1]', 'http')).toEqual(['2001:db8::1', 80]);
    expect(at(undefined, 'http')).toEqual([undefined, undefined]);
  });

  it('takes client.address from the first X-Forwarded-For entry, else the peer', () => {
    const client = (headers: Record<string, string | string[]>) =>
      serverSpanAttributes(request({ headers }), 'GET', 'http', parseTarget('/'), noRedaction)['client.address'];
    expect(client({ 'x-forwarded-for': '203.0.113.9, 10.0.0.1' })).toBe('203.0.113.9');
    expect(client({ 'x-forwarded-for': ' 203.0.113.9 ' })).toBe('203.0.113.9');
    expect(client({ 'x-forwarded-for': '203.0.113.9' })).toBe('203.0.113.9');
    expect(client({ 'x-forwarded-for': 'a,b' })).toBe('a');
    expect(client({ 'x-forwarded-for': ['198.51.100.2,10.0.0.1', '10.0.0.2'] })).toBe('198.51.100.2');
    expect(client({})).toBe('10.0.0.7');
  });

  it('does not throw when the socket is already gone', () => {
    const attributes = serverSpanAttributes(request({ socket: null }), 'GET', 'http', parseTarget('/'), noRedaction);
    expect(attributes['network.peer.address']).toBeUndefined();
    expect(attributes['network.peer.port']).toBeUndefined();
    expect(attributes['client.address']).toBeUndefined();
  });
});

describe('statusErrorType', () => {
  it('is the status code for 5xx only', () => {
    expect(statusErrorType(499)).toBeUndefined();
    expect(statusErrorType(500)).toBe('500');
    expect(statusErrorType(503)).toBe('503');
    expect(statusErrorType(599)).toBe('599');
    expect(statusErrorType(600)).toBeUndefined();
    expect(statusErrorType(200)).toBeUndefined();
  });
});

describe('MetricAttributeCache', () => {
  it('builds only the attributes it is given, frozen, and reuses the object of a series', () => {
    const cache = new MetricAttributeCache();
    const full = cache.get('GET', 'https', '2', '/users/:id', 503, '503');
    expect(full).toStrictEqual({
      'http.request.method': 'GET',
      'url.scheme': 'https',
      'network.protocol.version': '2',
      'http.route': '/users/:id',
      'http.response.status_code': 503,
      'error.type': '503',
    });
    expect(Object.isFrozen(full)).toBe(true);
    expect(cache.get('GET', 'https', '2', '/users/:id', 503, '503')).toBe(full);

    const bare = cache.get('GET', 'http', '', undefined, undefined, undefined);
    expect(bare).toStrictEqual({ 'http.request.method': 'GET', 'url.scheme': 'http' });
    expect(Object.keys(bare)).toEqual(['http.request.method', 'url.scheme']);
  });

  it('keeps series that differ only in route or error.type apart', () => {
    const cache = new MetricAttributeCache();
    expect(cache.get('GET', 'http', '1.1', '/a', 500, 'Error')['http.route']).toBe('/a');
    expect(cache.get('GET', 'http', '1.1', '/b', 500, 'Error')['http.route']).toBe('/b');
    expect(cache.get('GET', 'http', '1.1', '/a', 500, 'TimeoutError')['error.type']).toBe('TimeoutError');
    expect(cache.get('GET', 'http', '1.1', '/a', 500, 'Error')['error.type']).toBe('Error');
  });

  it('caches at most 2000 series; past that each record gets a fresh, still correct object', () => {
    const cache = new MetricAttributeCache();
    const first = cache.get('GET', 'http', '1.1', '/0', 200, undefined);
    for (let i = 1; i < 2000; i++) cache.get('GET', 'http', '1.1', `/${i}`, 200, undefined);
    const past = cache.get('GET', 'http', '1.1', '/2000', 200, undefined);
    expect(past['http.route']).toBe('/2000');
    expect(cache.get('GET', 'http', '1.1', '/2000', 200, undefined)).not.toBe(past);
    expect(cache.get('GET', 'http', '1.1', '/2000', 200, undefined)).toStrictEqual(past);
    expect(cache.get('GET', 'http', '1.1', '/0', 200, undefined)).toBe(first);
  });
});
