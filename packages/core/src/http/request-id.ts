/**
 * Request ids. An incoming `X-Request-Id` is kept when it is well-formed (1 to 128 characters from
 * letters, digits and `-_.:/+=@~`), so ids from a proxy or an upstream service carry through; anything
 * else (empty, too long, spaces, quotes, control characters that could forge log lines) is replaced
 * by a new UUID v4.
 */
import { randomUUID } from 'node:crypto';

/** The header name, lowercase as Node exposes it. */
export const REQUEST_ID_HEADER = 'x-request-id';

const WELL_FORMED = /^[A-Za-z0-9\-_.:/+=@~]{1,128}$/;

/** Is `value` acceptable as a request id? */
export function isWellFormedRequestId(value: unknown): value is string {
  return typeof value === 'string' && WELL_FORMED.test(value);
}

/**
 * The incoming id when well-formed, else a new one. Takes the raw header value (string, array or undefined).
 * Several values are ambiguous and rejected, as Node's comma-joined form of duplicate headers is.
 */
export function requestIdFrom(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? (header.length === 1 ? header[0] : undefined) : header;
  return isWellFormedRequestId(value) ? value : randomUUID();
}
