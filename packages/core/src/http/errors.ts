/**
 * What an error means for an HTTP answer, the same in every adapter: the status it asks for and the
 * text a client may see. Adapters use these for their JSON error bodies and to tell client errors
 * (4xx, not reported as failures) from server errors (5xx).
 */
import { load } from '../lazy.js';

/**
 * Node's status texts, required as CommonJS: an ES `import` of `node:http` builds its ESM facade, which
 * reads every export, including the lazy `WebSocket` getter that loads undici (~40 ms of start-up).
 */
const { STATUS_CODES } = load('node:http') as typeof import('node:http');

/**
 * The status an error asks for: its `status` or `statusCode` (http-errors, body parsers, Koa and
 * Fastify errors set them) when that is a 4xx or 5xx code, else 500.
 */
export function errorStatus(err: unknown): number {
  const e = err as { status?: unknown; statusCode?: unknown } | null;
  for (const value of [e?.status, e?.statusCode]) {
    const status = Number(value);
    if (Number.isInteger(status) && status >= 400 && status <= 599) return status;
  }
  return 500;
}

/**
 * The error text a client may see for `status`: `Internal server error` for 5xx (nothing internal
 * leaks), else Node's status text (`Bad Request` for 400), `Error` for unknown codes.
 */
export function errorMessage(status: number): string {
  return status >= 500 ? 'Internal server error' : (STATUS_CODES[status] ?? 'Error');
}
