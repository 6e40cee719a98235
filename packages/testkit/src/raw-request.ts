/**
 * A request through `node:http` on a new connection, which can send what `fetch` cannot: any method
 * (`PURGE`), absolute-form targets (`http://user:pw@host/path`), fragments, and a fresh connection each
 * time (a `node:cluster` primary hands each new connection to the next worker).
 */
import { type IncomingHttpHeaders, request } from 'node:http';

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
