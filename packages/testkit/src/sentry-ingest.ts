/**
 * A local Sentry ingest server for tests: the endpoint a DSN `http://KEY@127.0.0.1:PORT/1` sends to.
 * The Sentry SDK POSTs envelopes to `/api/<project>/envelope/` (`?sentry_key=KEY&sentry_version=7&...`),
 * gzip-compressed when the body is larger than 32 KiB. An envelope is newline-separated JSON: an
 * envelope header line, then, per item, an item header line and a payload; it is decoded with
 * `parseEnvelope` from `@sentry/core`, the SDK's own reader.
 *
 * Every request is kept with its decoded body, so that tests can both inspect the events and search
 * everything that left the process (`text()`) for secrets.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync, inflateSync } from 'node:zlib';
import { parseEnvelope } from '@sentry/core';

/** One item of an envelope: its header (`type`: `event`, `transaction`, `session`, `client_report`, ...) and payload. */
export interface ReceivedEnvelopeItem {
  header: Record<string, unknown> & { type?: string };
  /** Parsed JSON, or the raw bytes for binary items (attachments). */
  payload: unknown;
}

/** One envelope as received. */
export interface ReceivedEnvelope {
  /** Request path without the query string (`/api/1/envelope/`). */
  path: string;
  /** Query parameters (`sentry_key`, `sentry_version`, `sentry_client`). */
  query: Record<string, string>;
  /** Request headers (lower-cased names). */
  headers: Record<string, string | string[] | undefined>;
  /** The envelope header (`event_id`, `dsn`, `sdk`, `sent_at`, `trace`, ...). */
  header: Record<string, unknown>;
  items: ReceivedEnvelopeItem[];
  /** The decoded body as text (after gunzip). */
  text: string;
}

/** An error event (the payload of an `event` item), loosely typed. */
export type ReceivedSentryEvent = Record<string, unknown> & {
  event_id?: string;
  level?: string;
  release?: string;
  environment?: string;
  transaction?: string;
  tags?: Record<string, unknown>;
  contexts?: Record<string, Record<string, unknown> | undefined> & {
    trace?: { trace_id?: string; span_id?: string; [key: string]: unknown };
  };
  request?: Record<string, unknown>;
  exception?: {
    values?: { type?: string; value?: string; mechanism?: Record<string, unknown>; [key: string]: unknown }[];
  };
};

/** Options for {@link startSentryIngest}. */
export interface SentryIngestOptions {
  /** Port to listen on; default an ephemeral port. */
  port?: number;
  /** HTTP status answered to envelopes; default 200. */
  status?: number;
  /** Accept connections but never answer (a hanging ingest). Default false. */
  hang?: boolean;
}

/** A running ingest server. */
export interface SentryIngest {
  readonly port: number;
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** A DSN pointing here: `http://<key>@127.0.0.1:PORT/<project>` (key: letters, digits, `_`). */
  dsn(key?: string, project?: string): string;
  /** Envelopes received so far, in arrival order. */
  readonly envelopes: ReceivedEnvelope[];
  /** Requests that were not envelopes, or did not parse (path and reason). */
  readonly rejected: { path: string; reason: string }[];
  /** The payloads of all items of a type (default `event`) received so far. */
  items(type?: string): unknown[];
  /** The error events received so far. */
  events(): ReceivedSentryEvent[];
  /** Resolves with the matching events once at least `count` have arrived (rejects after `timeoutMs`, default 5000). */
  waitForEvents(
    predicate: (event: ReceivedSentryEvent) => boolean,
    count?: number,
    timeoutMs?: number,
  ): Promise<ReceivedSentryEvent[]>;
  /** Every envelope's decoded text, joined: search it for secrets. */
  text(): string;
  /** Forget what was received. */
  clear(): void;
  close(): Promise<void>;
}

function decode(body: Buffer, encoding: string | undefined): Buffer {
  if (encoding === 'gzip') return gunzipSync(body);
  if (encoding === 'deflate') return inflateSync(body);
  return body;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Start an ingest server on 127.0.0.1. */
export async function startSentryIngest(options: SentryIngestOptions = {}): Promise<SentryIngest> {
  const envelopes: ReceivedEnvelope[] = [];
  const rejected: { path: string; reason: string }[] = [];
  const hanging = new Set<ServerResponse>();

  const handle = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method !== 'POST' || !/^\/api\/[^/]+\/envelope\/$/.test(url.pathname)) {
      rejected.push({ path: url.pathname, reason: `${req.method} is not an envelope POST` });
      res.writeHead(404).end();
      return;
    }
    try {
      const bytes = decode(body, req.headers['content-encoding'] as string | undefined);
      const [header, items] = parseEnvelope(bytes) as unknown as [
        Record<string, unknown>,
        [Record<string, unknown>, unknown][],
      ];
      envelopes.push({
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: req.headers,
        header,
        items: items.map(([itemHeader, payload]) => ({ header: itemHeader, payload })),
        text: bytes.toString('utf8'),
      });
    } catch (err) {
      rejected.push({ path: url.pathname, reason: err instanceof Error ? err.message : String(err) });
      res.writeHead(400).end();
      return;
    }
    if (options.hang) {
      hanging.add(res);
      return;
    }
    res.writeHead(options.status ?? 200, { 'content-type': 'application/json' }).end('{}');
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => handle(req, res, Buffer.concat(chunks)));
  });
  server.listen(options.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;

  const items = (type = 'event'): unknown[] =>
    envelopes.flatMap((e) => e.items.filter((i) => i.header.type === type).map((i) => i.payload));
  const events = () => items('event') as ReceivedSentryEvent[];

  return {
    port,
    url,
    dsn: (key = '0123456789abcdef0123456789abcdef', project = '1') => `http://${key}@127.0.0.1:${port}/${project}`,
    envelopes,
    rejected,
    items,
    events,
    async waitForEvents(predicate, count = 1, timeoutMs = 5000) {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const found = events().filter(predicate);
        if (found.length >= count) return found;
        if (performance.now() > deadline) {
          throw new Error(
            `expected ${count} matching Sentry event(s) within ${timeoutMs} ms, got ${found.length}; all events: ${JSON.stringify(
              events().map((e) => ({ id: e.event_id, exception: e.exception?.values?.[0]?.value, tags: e.tags })),
            )}`,
          );
        }
        await sleep(20);
      }
    },
    text: () => envelopes.map((e) => e.text).join('\n'),
    clear() {
      envelopes.length = 0;
      rejected.length = 0;
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
