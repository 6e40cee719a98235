import { IncomingMessage, type OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';

/**
 * An in-process HTTP request where the platform has no `inject()` (platform-express): the app's request
 * listener answers a request made of Node's own `http` classes on an in-memory socket, without the
 * network and without light-my-request (which rewires the prototypes of every request of an Express
 * app it injects into, and so breaks its real requests). The TypeScript twin of
 * examples/shared/src/in-process-request.js (this example is self-contained, as its other files).
 *
 * The request is HTTP/1.0 without a body, so the response is never chunked and its body is the bytes
 * after the header block. When the response has finished (every byte handed to the socket), the
 * in-memory client hangs up, as a real one does after reading the whole response: the response then
 * closes, as it does on a real server.
 */

const HEADER_END = Buffer.from('\r\n\r\n');

export interface InProcessResponse {
  statusCode: number;
  /** Lower-case names, as the app set them. */
  headers: OutgoingHttpHeaders;
  body: Buffer;
}

/**
 * Make a request (no body) to `listener` (the app's request listener: `getInstance()` of Nest's
 * express adapter) in this process.
 * @returns when the response has finished
 * @throws (rejects) when the response closes before it finished (the app destroyed it)
 */
export function requestInProcess(
  listener: (req: IncomingMessage, res: ServerResponse) => void,
  { method = 'GET', url, headers = {} }: { method?: string; url: string; headers?: Record<string, string> },
): Promise<InProcessResponse> {
  return new Promise((resolve, reject) => {
    const written: Buffer[] = [];
    const socket = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        written.push(chunk);
        callback();
      },
    });
    const req = new IncomingMessage(socket as unknown as Socket);
    req.method = method;
    req.url = url;
    req.httpVersionMajor = 1;
    req.httpVersionMinor = 0;
    req.httpVersion = '1.0';
    for (const [name, value] of Object.entries(headers)) {
      req.headers[name.toLowerCase()] = value;
      req.rawHeaders.push(name, value);
    }
    req.push(null); // no body
    const res = new ServerResponse(req);
    res.assignSocket(socket as unknown as Socket);
    res.once('finish', () => {
      const raw = Buffer.concat(written);
      const headerEnd = raw.indexOf(HEADER_END);
      resolve({
        statusCode: res.statusCode,
        headers: res.getHeaders(),
        body: headerEnd === -1 ? Buffer.alloc(0) : raw.subarray(headerEnd + HEADER_END.length),
      });
      socket.destroy(); // the client read the whole response and hangs up: the response closes
    });
    res.once('close', () => {
      if (!res.writableFinished) reject(new Error(`in-process ${method} ${url}: the response closed unfinished`));
    });
    listener(req, res);
  });
}
