/**
 * Requests on connections of their own (never a pooled keep-alive one), for the scenarios that need
 * to know when the service has a request: a client writes a request to the OS before it is sent
 * ({@link openGet}'s `sent`); once a request on a *later* connection has been answered, the service
 * has read the earlier ones (their bytes were waiting on its sockets before the later connection was
 * made, and it reads ready sockets in one pass of its event loop). That replaces "sleep 150 ms, the
 * request has surely reached the handler by now", which a busy machine breaks.
 */
import { get } from 'node:http';

/** How a request ended: the answer, or the code of the error that ended it (`ECONNRESET`). */
export type Outcome = { status: number; body: string } | { error: string };

/** A GET in flight on its own connection; see {@link openGet}. */
export interface OpenRequest {
  /** Resolves once the whole request has been handed to the OS: the service can read it. */
  readonly sent: Promise<void>;
  /** The answer, or the error that ended the request. Never rejects. */
  readonly outcome: Promise<Outcome>;
  /** True once the outcome is known. */
  settled(): boolean;
  /** Close the connection (a client giving up). */
  abort(): void;
}

/** Send `GET path` to 127.0.0.1:`port` on a new connection. */
export function openGet(port: number, path: string, headers: Record<string, string> = {}): OpenRequest {
  let done = false;
  const req = get({ host: '127.0.0.1', port, path, headers, agent: false });
  const sent = new Promise<void>((resolve, reject) => {
    req.once('finish', () => resolve());
    req.once('error', reject);
  });
  sent.catch(() => undefined); // an error before the request was written is also the outcome's
  const outcome = new Promise<Outcome>((resolve) => {
    req.once('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.once('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    });
    req.once('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
  }).finally(() => {
    done = true;
  });
  return { sent, outcome, settled: () => done, abort: () => req.destroy() };
}

/** The status of `GET path` on a new connection. Rejects when the connection fails. */
export async function freshGet(port: number, path: string): Promise<number> {
  const outcome = await openGet(port, path).outcome;
  if ('error' in outcome) throw new Error(`GET ${path} failed: ${outcome.error}`);
  return outcome.status;
}
