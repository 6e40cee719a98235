/**
 * Extra fields of the completion line (`request completed`, `request aborted`, `request cut at
 * shutdown`): the standard ones `OBS_HTTP_LOG_FIELDS` turns on, named by the semantic conventions, and
 * the app's own, from the `fields` option of its adapter. Both go through the logger's redaction like
 * every other field. Nothing here runs for a request when neither is set.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpLogField } from '../config/resolve.js';
import { warn } from '../diag.js';
import { semconv } from '../otel.js';

const { ATTR_CLIENT_ADDRESS, ATTR_USER_AGENT_ORIGINAL } = semconv;
/**
 * `http.response.body.size`: still in the incubating part of the semantic conventions, whose
 * constants the package asks users to copy rather than import (they may change in a minor release).
 */
const ATTR_HTTP_RESPONSE_BODY_SIZE = 'http.response.body.size';

/**
 * The app's fields of one request: what it returns (a plain object; anything else adds nothing) is
 * merged into the completion line, under @obs's own fields (it cannot replace `http.route`,
 * `request_id`, ...). Called once per request, when the response has closed.
 */
export type CompletionFields = (req: IncomingMessage, res: ServerResponse) => Record<string, unknown> | undefined;

/** The standard fields to add, as flags (the hot path tests a number, not a list). */
export interface StandardFields {
  readonly userAgent: boolean;
  readonly clientAddress: boolean;
  readonly bodySize: boolean;
}

/** The flags of `OBS_HTTP_LOG_FIELDS`, or undefined when it names none. */
export function standardFields(fields: readonly HttpLogField[]): StandardFields | undefined {
  if (fields.length === 0) return undefined;
  return {
    userAgent: fields.includes('user_agent.original'),
    clientAddress: fields.includes('client.address'),
    bodySize: fields.includes('http.response.body.size'),
  };
}

/**
 * The client's address as the semantic conventions define `client.address` on the server side: the
 * first `for=` of a `Forwarded` header, else the first entry of `X-Forwarded-For` (both sent by the
 * client or a proxy: a client can put anything there), else the peer of the connection (an IPv4
 * peer of a dual-stack server as `127.0.0.1`, not `::ffff:127.0.0.1`).
 */
export function clientAddress(req: IncomingMessage): string | undefined {
  const forwarded = req.headers.forwarded;
  if (typeof forwarded === 'string') {
    const match = /(?:^|[;,\s])for=("?)\[?([^\]";,\s]+)/i.exec(forwarded);
    if (match?.[2]) return match[2];
  }
  const xff = req.headers['x-forwarded-for'];
  const first = (Array.isArray(xff) ? xff[0] : xff)?.split(',')[0]?.trim();
  if (first) return first;
  const peer = req.socket?.remoteAddress;
  // an IPv4 client of a dual-stack server: its IPv4 address, as it is known everywhere else
  return peer?.startsWith('::ffff:') && peer.includes('.') ? peer.slice(7) : peer;
}

/** Add the standard fields of `flags` to `line`. */
export function addStandardFields(
  line: Record<string, unknown>,
  flags: StandardFields,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  if (flags.userAgent) {
    const agent = req.headers['user-agent'];
    if (agent !== undefined) line[ATTR_USER_AGENT_ORIGINAL] = agent;
  }
  if (flags.clientAddress) {
    const address = clientAddress(req);
    if (address !== undefined) line[ATTR_CLIENT_ADDRESS] = address;
  }
  if (flags.bodySize && res.headersSent) {
    const length = contentLength(res);
    if (length !== undefined) line[ATTR_HTTP_RESPONSE_BODY_SIZE] = length;
  }
}

const CONTENT_LENGTH = /\r\ncontent-length:[ \t]*(\d+)[ \t]*\r\n/i;

/**
 * The `Content-Length` the response was sent with: set with `setHeader()`, or only passed to
 * `writeHead()` (Fastify does), which Node keeps in the head it wrote, not in `getHeader()`.
 */
function contentLength(res: ServerResponse): number | undefined {
  const set = res.getHeader('content-length');
  let value = set === undefined ? undefined : Number(set);
  if (value === undefined) {
    const head = (res as { _header?: unknown })._header;
    const match = typeof head === 'string' ? CONTENT_LENGTH.exec(head) : null;
    if (match?.[1]) value = Number(match[1]);
  }
  return value !== undefined && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

let warnedFailure = false;

/**
 * Add the app's fields to `line`, under the keys already there. A `fields` function that throws, or
 * returns something that is not an object, never breaks the request: the line is written without its
 * fields and with `fields_failed: true`, and the first failure of the process is reported once on
 * stderr with the error's message.
 */
export function addAppFields(
  line: Record<string, unknown>,
  fields: CompletionFields,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  const own: Record<string, unknown> = {};
  try {
    const extra: unknown = fields(req, res);
    if (extra === undefined || extra === null || typeof extra !== 'object') return;
    for (const key of Object.keys(extra)) own[key] = (extra as Record<string, unknown>)[key];
  } catch (err) {
    line.fields_failed = true;
    if (!warnedFailure) {
      warnedFailure = true;
      warn(
        `the fields() option threw (${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}); completion lines are written without its fields and with fields_failed: true (reported once)`,
      );
    }
    return;
  }
  for (const key of Object.keys(own)) {
    if (!(key in line)) line[key] = own[key];
  }
}
