/**
 * The completion line's extra fields (src/http/completion-fields.ts) on their own: the flags of
 * `OBS_HTTP_LOG_FIELDS`, `client.address` from `Forwarded`, `X-Forwarded-For` or the peer, the sent
 * `Content-Length`, and the app's `fields()`. Written from the surviving StrykerJS mutants of that
 * module (docs/testing.md, "Mutation testing"); observer.test.ts proves the same through a real server.
 */
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { addAppFields, addStandardFields, clientAddress, standardFields } from '../src/http/completion-fields.js';

/** The request fields the helpers read, as node:http fills them in. */
function request(
  headers: Record<string, string | string[]> = {},
  socket: { remoteAddress?: string } | null = { remoteAddress: '10.0.0.7' },
): IncomingMessage {
  return { headers, socket } as unknown as IncomingMessage;
}

/** A real response (no socket): `writeHead()` stores the head Node would send. */
function response(): ServerResponse {
  return new ServerResponse(new IncomingMessage(new Socket()));
}

const ALL = { userAgent: true, clientAddress: true, bodySize: true };
const NONE = { userAgent: false, clientAddress: false, bodySize: false };

describe('standardFields', () => {
  it('is undefined when OBS_HTTP_LOG_FIELDS names none, else one flag per field', () => {
    expect(standardFields([])).toBeUndefined();
    expect(standardFields(['client.address'])).toEqual({ userAgent: false, clientAddress: true, bodySize: false });
  });
});

describe('clientAddress', () => {
  it('takes the first for= of Forwarded, quoted or not, after any parameter or separator', () => {
    expect(clientAddress(request({ forwarded: 'for=192.0.2.60;proto=http' }))).toBe('192.0.2.60');
    expect(clientAddress(request({ forwarded: 'proto=https; for=192.0.2.61' }))).toBe('192.0.2.61');
    expect(clientAddress(request({ forwarded: 'by=203.0.113.1;for=192.0.2.62' }))).toBe('192.0.2.62');
    expect(clientAddress(request({ forwarded: 'for="[2001:db8::2]:4711"' }))).toBe('2001:db8::2');
  });

  it('falls back to X-Forwarded-For, trimmed, when Forwarded has no for=', () => {
    const headers = { forwarded: 'proto=https', 'x-forwarded-for': ' 203.0.113.7 , 10.0.0.1' };
    expect(clientAddress(request(headers))).toBe('203.0.113.7');
  });

  it('falls back to the peer, an IPv4-mapped one as plain IPv4, and is undefined without a socket', () => {
    expect(clientAddress(request({}, { remoteAddress: '::ffff:192.0.2.9' }))).toBe('192.0.2.9');
    expect(clientAddress(request({}, { remoteAddress: '::1' }))).toBe('::1');
    expect(clientAddress(request({}, {}))).toBeUndefined();
    expect(clientAddress(request({}, null))).toBeUndefined();
  });
});

describe('addStandardFields', () => {
  it('adds only the flagged fields, and none whose value is unknown', () => {
    const res = response();
    res.writeHead(200, { 'Content-Length': '12' });
    const req = request({ 'user-agent': 'agent/1.0' });
    const none: Record<string, unknown> = {};
    addStandardFields(none, NONE, req, res);
    expect(none).toStrictEqual({});

    const all: Record<string, unknown> = {};
    addStandardFields(all, ALL, req, res);
    expect(all).toStrictEqual({
      'user_agent.original': 'agent/1.0',
      'client.address': '10.0.0.7',
      'http.response.body.size': 12,
    });

    const unknown: Record<string, unknown> = {};
    const chunked = response();
    chunked.writeHead(200);
    addStandardFields(unknown, ALL, request({}, null), chunked);
    expect(unknown).toStrictEqual({});
  });

  it('adds the body size only once the head is sent, and only a whole non-negative number', () => {
    const size = (contentLength: string, send = true): unknown => {
      const res = response();
      res.setHeader('content-length', contentLength);
      if (send) res.writeHead(200);
      const line: Record<string, unknown> = {};
      addStandardFields(line, { ...NONE, bodySize: true }, request(), res);
      return line['http.response.body.size'];
    };
    expect(size('0')).toBe(0);
    expect(size('5', false)).toBeUndefined();
    expect(size('-1')).toBeUndefined();
    expect(size('1.5')).toBeUndefined();
    expect(size('abc')).toBeUndefined();
  });
});

describe('addAppFields', () => {
  it('adds nothing, and no failure, when fields() returns null or undefined', () => {
    for (const value of [null, undefined]) {
      const line: Record<string, unknown> = { msg: 'x' };
      addAppFields(line, () => value as unknown as Record<string, unknown>, request(), response());
      expect(line).toStrictEqual({ msg: 'x' });
    }
  });
});
