/**
 * An in-process HTTP request for frameworks that have no `inject()` of their own (Express, NestJS on
 * platform-express): the app's request listener answers a request made of Node's own `http` classes
 * on an in-memory socket, without the network and without light-my-request (which rewires the
 * prototypes of every request of an Express app it injects into, and so breaks its real requests).
 *
 * The request is HTTP/1.0 without a body, so the response is never chunked and its body is the bytes
 * after the header block. When the response has finished (every byte handed to the socket), the
 * in-memory client hangs up, as a real one does after reading the whole response: the response then
 * closes, as it does on a real server.
 */
import { IncomingMessage, ServerResponse } from 'node:http';
import { Duplex } from 'node:stream';

const HEADER_END = Buffer.from('\r\n\r\n');

/**
 * @typedef {object} InProcessResponse
 * @property {number} statusCode
 * @property {import('node:http').OutgoingHttpHeaders} headers lower-case names, as the app set them
 * @property {Buffer} body
 */

/**
 * Make a request to `listener` in this process.
 * @param {(req: IncomingMessage, res: ServerResponse) => void} listener the app's request listener
 *   (an Express app; `getInstance()` of Nest's express adapter)
 * @param {{ method?: string, url: string, headers?: Record<string, string> }} request no body
 * @returns {Promise<InProcessResponse>} when the response has finished
 * @throws (rejects) when the response closes before it finished (the app destroyed it)
 */
export function requestInProcess(listener, { method = 'GET', url, headers = {} }) {
  return new Promise((resolve, reject) => {
    /** @type {Buffer[]} */
    const written = [];
    const socket = new Duplex({
      read() {},
      write(chunk, _encoding, callback) {
        written.push(chunk);
        callback();
      },
    });
    const req = new IncomingMessage(/** @type {import('node:net').Socket} */ (/** @type {unknown} */ (socket)));
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
    res.assignSocket(/** @type {import('node:net').Socket} */ (/** @type {unknown} */ (socket)));
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
