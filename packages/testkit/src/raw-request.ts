/**
 * A request through `node:http` on a new connection, which can send what `fetch` cannot: any method
 * (`PURGE`), absolute-form targets (`http://user:pw@host/path`), fragments, and a fresh connection each
 * time (a `node:cluster` primary hands each new connection to the next worker).
 */
import { type IncomingHttpHeaders, request } from 'node:http';
import { connect } from 'node:net';

/** What {@link rawRequest} sends besides the path. */
export interface RawRequestOptions {
  /** Default `GET`. */
  method?: string;
  headers?: Record<string, string>;
  /** Default `127.0.0.1`. */
  host?: string;
}

/** The answer of {@link rawRequest}: status, headers and the body as UTF-8 text. */
export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * Send `path` (the request target exactly as given) to `port` on a new connection and read the whole
 * answer. Rejects when the connection fails.
 */
export function rawRequest(port: number, path: string, options: RawRequestOptions = {}): Promise<RawResponse> {
  const { method = 'GET', headers = {}, host = '127.0.0.1' } = options;
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, method, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Open a TCP connection to `127.0.0.1:port` and close it at once: `'connected'`, or the error code
 * (`ECONNREFUSED` once a server has stopped listening).
 */
export function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });
}
