// Loopback OTLP endpoint. MODE=ok answers 200 to every request (counting them per path);
// MODE=hang accepts connections and never answers. Prints {"port":N} on stdout once listening and
// the counts as JSON on SIGTERM.
import { createServer } from 'node:http';

const mode = process.env.MODE ?? 'ok';
const counts = {};
let bytes = 0;
const server = createServer((req, res) => {
  req.on('data', (c) => {
    bytes += c.length;
  });
  req.on('end', () => {
    counts[req.url] = (counts[req.url] ?? 0) + 1;
    if (mode === 'ok') {
      res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/x-protobuf' });
      res.end();
    }
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
process.on('SIGTERM', () => {
  process.stdout.write(`${JSON.stringify({ counts, bytes })}\n`);
  process.exit(0);
});
